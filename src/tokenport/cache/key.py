"""What makes two requests the same: their normalised form, hashed.

Normalised: the fields that only say how the answer travels (`stream_options`, the door the
request came through) are cleared, and dict keys are sorted, so the same question asked
through Chat Completions or Anthropic Messages with keys in any order hashes alike.
Everything that could change the answer stays in: the model after aliases, every message,
sampling parameters, tools, routing preferences, provider-specific extras.

A streamed and a non-streamed answer are kept apart (`s` / `n`), so each replays exactly as
it was sent. Entries are scoped to the key (`k:<id>`), to requests without a key (`anon`),
or to everyone with `[cache] shared = true`.
"""

from __future__ import annotations

import hashlib

import msgspec

from tokenport.values import ChatRequest

_encode = msgspec.msgpack.Encoder(order="sorted").encode
PREFIX = "tokenport:cache:v1:"


def request_digest(request: ChatRequest) -> str:
    norm = msgspec.structs.replace(request, stream=False, stream_options=None, door="chat")
    return hashlib.blake2b(_encode(norm), digest_size=16).hexdigest()


def cache_key(request: ChatRequest, key_id: str | None, shared: bool) -> str:
    scope = "shared" if shared else (f"k:{key_id}" if key_id else "anon")
    mode = "s" if request.stream else "n"
    return f"{PREFIX}{scope}:{mode}:{request_digest(request)}"
