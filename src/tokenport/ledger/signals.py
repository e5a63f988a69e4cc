"""What the edge saw of a request, for the abuse scan (`security/abuse`): one row per request
in `request_signals`, written in the same transaction as its `requests` row.

No prompt text is kept unless `[abuse] store_prompts` is on: only hashes and sketches from
which the text cannot be read back (`text` stays None). Hashes are 63-bit so that they fit a
signed BIGINT in both databases; 0 means "none".
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tokenport.db import Tx


class RequestSignals(msgspec.Struct, array_like=True, omit_defaults=True):
    # array_like: the journal carries values, not field names (ledger/journal.py).
    ip: str = ""  # the client's address (security/clientip.py)
    prefix: str = ""  # its /24 (IPv4) or /48 (IPv6)
    ua: int = 0  # hash of the User-Agent
    system: int = 0  # hash of the system prompt
    prompt_a: int = 0  # MinHash LSH bands of the user prompt (two 32-bit bands each)
    prompt_b: int = 0
    template_a: int = 0  # the same of its template (numbers, names, quotes, code normalised)
    template_b: int = 0
    template: int = 0  # exact hash of the template
    chars: int = 0  # the user prompt's length
    context_chars: int = 0  # every message's text
    max_tokens: int = 0  # as requested; 0 when unset
    cot: int = 0  # bit 1: the text asks for step-by-step reasoning; bit 2: reasoning requested
    tools: int = 0  # tools declared
    tool_turns: int = 0  # tool calls and results in the conversation
    depth: int = 0  # user turns in the conversation
    topic: int = 0  # `security/abuse/topics.py`'s topic id; 0: none recognised
    shape: int = 0  # hash of the request's parameter shape (which fields, which values)
    text: str | None = None  # the user prompt, only with store_prompts


# Every signals field, then the ledger's own fields the scan reads from the same row.
SIGNAL_FIELDS: tuple[str, ...] = RequestSignals.__struct_fields__
COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "key_id",
    "door",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "model",
    *SIGNAL_FIELDS,
)


def insert(tx: Tx, rows: Sequence[Sequence[object]]) -> None:
    """Rows for requests just inserted (so their ids are new here too)."""
    if not rows:
        return
    cols = ", ".join(COLUMNS)
    if tx.dialect == "postgres":
        tx.copy(f"COPY request_signals ({cols}) FROM STDIN", rows)
        return
    marks = ", ".join("?" * len(COLUMNS))
    tx.many(f"INSERT INTO request_signals ({cols}) VALUES ({marks})", rows)
