"""The app name a request names (`X-Title`, or `HTTP-Referer`), as stored and ranked.

Both headers are client-controlled text. Unbounded, 300 names of 16 KB made the rankings
answer 3.2 MB; a referer's path and query put user ids and per-page variants into the
ledger, each a separate "app". So a name is:

- read from at most `MAX_RAW_CHARS` characters (the rest is never looked at);
- a URL (`scheme://...`) becomes its host, lowercased, without `www.`: the site is the app;
- NFKC-normalised, with control, format (bidi overrides, zero-width) and other unprintable
  characters turned into spaces and runs of whitespace collapsed;
- cut to `MAX_APP_CHARS` characters; empty means no app (None).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

MAX_APP_CHARS = 64
MAX_RAW_CHARS = 1024


def normalize_app(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw[:MAX_RAW_CHARS].strip()
    if "://" in text[:16]:
        host = _host(text)
        if host is not None:
            text = host
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())[:MAX_APP_CHARS].rstrip()
    return text or None


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if not host:
        return None
    return host.removeprefix("www.")
