"""What a client may read of a message: no API keys, no internal addresses.

Applied wherever upstream or internal text reaches a client (error bodies, stream errors)
and, for keys, the logs too.
"""

from __future__ import annotations

import re

_SECRET = re.compile(
    r"(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]+|(Bearer\s+)\S+|(x-api-key[\"':\s]+)\S+", re.I
)
# Where an upstream lives is the operator's business: URLs, IPv4/IPv6 addresses and
# host:port pairs are removed from what a client is shown (logs keep them).
_ADDRESS = re.compile(
    r"\b[a-z][a-z0-9+.\-]*://[^\s'\"<>]+"  # a URL
    r"|\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5})?"  # [IPv6]:port
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"  # IPv4[:port], then a named host:port
    r"|\b(?=[\w.\-]*[a-z])[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9\-]+)*:\d{2,5}\b",
    re.I,
)


def redact(text: str) -> str:
    """Remove anything that looks like an API key from text shown to clients or logs."""
    return _SECRET.sub(
        lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "[REDACTED]", text
    )


def redact_addresses(text: str) -> str:
    """Remove network addresses from text shown to clients."""
    return _ADDRESS.sub("[address]", text)
