"""What the fake upstream is told to do (`Script`) and what it read from a request (`Turn`).

The bodies built from them live in `fake_openai.py` and `fake_anthropic.py`; `fake_wire.py`
dispatches by protocol.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import msgspec

Protocol = Literal["openai", "anthropic", "gemini"]
Frames = tuple[list[bytes], list[bytes], list[bytes]]  # (head, deltas, tail) of a stream
_TEXT_KEYS = frozenset({"content", "text"})
CREATED = 1_700_000_000  # fixed so bodies can be cached


class Script(msgspec.Struct, frozen=True, kw_only=True):
    """How the fake answers one request. Frozen and hashable: bodies are cached per script."""

    text: str = "Hello from the fake upstream."
    latency_ms: float = 0.0  # before the response headers
    chunks: int = 3  # stream deltas the reply is split into (at most one per character)
    chunk_interval_ms: float = 0.0  # pause before each delta after the first
    status: int = 200  # non-2xx answers an error body in the protocol's own shape
    error_message: str | None = None  # None: a stock message (401 echoes the presented key)
    retry_after: float | None = None  # sent as a Retry-After header, on any status
    hang: bool = False  # accept the request and never answer
    cut_after: int | None = None  # drop the connection after k stream deltas (non-stream: at once)
    # OpenAI streams, whose reasoning comes before the scripted deltas: drop the connection
    # after k reasoning deltas instead.
    cut_in_reasoning: int | None = None
    stream_error_after: int | None = None  # emit an in-stream error event after k deltas
    stream_error_type: str = "overloaded_error"  # Anthropic error type of that event
    usage: bool = True  # False: omit usage even when the client asks for it
    tool_calls: bool = True  # answer with a call to a tool when the request offers tools
    tool_arguments: str = '{"city": "Paris"}'  # a JSON object, as text
    tool_name: str | None = None  # call this tool when offered (else the forced or first one)
    parallel_calls: int = 1  # how many calls (to the same tool) one answer makes
    interleave_calls: bool = False  # OpenAI streams: all calls start, then arguments alternate
    # After a tool ran: when the request's last turn is a tool result, answer this text with
    # `{result}` replaced by the result instead of calling a tool (a whole agent round trip).
    after_tool_result: str | None = None
    reasoning: str | None = None  # reasoning before the answer (OpenAI reasoning_content,
    signature: str = "c2lnbmVkLWJ5LWZha2U="  # Anthropic: a thinking block with this signature)
    # Anthropic: answer 400, as Anthropic does, when thinking is on and the last assistant
    # turn calls a tool without its thinking block first (sent back signed, as received).
    thinking_rule: bool = False
    # OpenAI: answer 400 to a message whose role is not one of these, as strict upstreams do
    # (DeepSeek knows no "developer"). None: any role.
    roles: tuple[str, ...] | None = None
    finish: Literal["stop", "length"] = "stop"
    cost: float | None = None  # reported as OpenRouter's `usage.cost` (OpenAI protocol)
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class Turn(msgspec.Struct, frozen=True):
    """The parts of a request that shape the answer."""

    protocol: Protocol
    model: str
    stream: bool
    include_usage: bool
    words: int
    tool: str | None
    reply: str | None = None  # the text to answer, when not the script's own
    logprobs: bool = False  # the request asked for token logprobs
    resumed_call: bool = False  # continues a tool call the client saw start (no new start)


# ---------------------------------------------------------------------------------------
# Reading a request


def count_words(node: Any) -> int:
    if isinstance(node, str):
        return len(node.split())
    if isinstance(node, list):
        return sum(count_words(item) for item in node)
    if isinstance(node, dict):
        return sum(count_words(v) for k, v in node.items() if k in _TEXT_KEYS)
    return 0


def _offered(tool: Any) -> str:
    return str((tool.get("function") or {}).get("name") or tool.get("name") or "tool")


def _tool_name(body: dict[str, Any], wanted: str | None) -> str | None:
    """The tool a reply should call: the forced one, else the wanted or first offered one;
    None for 'none'."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    if isinstance(choice, dict):
        forced = choice.get("name") or (choice.get("function") or {}).get("name")
        if forced:
            return str(forced)
    names = [_offered(t) for t in tools]
    return wanted if wanted in names else names[0]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            _text_of(p.get("text", p.get("content"))) for p in content if isinstance(p, dict)
        )
    return ""


def _tool_result(body: dict[str, Any]) -> str | None:
    """The result text when the request's last turn reports a tool's result."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "tool":
        return _text_of(last.get("content"))
    content = last.get("content")
    if last.get("role") == "user" and isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return "".join(_text_of(b.get("content")) for b in results)
    return None


def thinking_violation(body: dict[str, Any]) -> str | None:
    """Anthropic's rule with thinking on: the last assistant turn, when it calls a tool,
    starts with a signed thinking block (or a redacted one). The error message, or None."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return None
    messages = body.get("messages") or []
    turns = [
        (i, m)
        for i, m in enumerate(messages)
        if isinstance(m, dict) and m.get("role") == "assistant"
    ]
    if not turns or not isinstance(turns[-1][1].get("content"), list):
        return None
    i, last = turns[-1]
    blocks = [b for b in last["content"] if isinstance(b, dict)]
    if not any(b.get("type") == "tool_use" for b in blocks):
        return None
    first = blocks[0]
    if first.get("type") == "thinking" and not first.get("signature"):
        return f"messages.{i}.content.0.thinking.signature: Field required"
    if first.get("type") in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must "
        "start with a thinking block (preceeding the lastmost set of `tool_use` and "
        "`tool_result` blocks)."
    )


def role_violation(body: dict[str, Any], roles: tuple[str, ...]) -> str | None:
    """The error a strict OpenAI-compatible upstream (DeepSeek's words) gives a message role
    it does not know, or None."""
    for i, message in enumerate(body.get("messages") or []):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in roles:
            expected = ", ".join(f"`{r}`" for r in roles)
            return (
                "Failed to deserialize the JSON body into the target type: "
                f"messages[{i}].role: unknown variant `{role}`, expected one of {expected}"
            )
    return None


def turn_of(protocol: Protocol, body: dict[str, Any], script: Script) -> Turn:
    options = body.get("stream_options") or {}
    # Anthropic always reports usage; OpenAI streams only when asked.
    wants_usage = protocol == "anthropic" or not body.get("stream") or options.get("include_usage")
    result = _tool_result(body) if script.after_tool_result is not None else None
    reply = None
    if result is not None and script.after_tool_result is not None:
        reply = script.after_tool_result.replace("{result}", result.strip())
    return Turn(
        protocol=protocol,
        model=str(body.get("model", "fake-model")),
        stream=bool(body.get("stream")),
        include_usage=bool(wants_usage) and script.usage,
        words=count_words(body.get("messages")) + count_words(body.get("system")),
        tool=_tool_name(body, script.tool_name) if script.tool_calls and reply is None else None,
        reply=reply,
        logprobs=bool(body.get("logprobs")),
    )


def continuation_of(
    protocol: Protocol, body: dict[str, Any], script: Script
) -> tuple[Script, bool] | None:
    """A request to continue a partial answer (DeepSeek `prefix`, Kimi `partial`, vLLM
    `continue_final_message`, Anthropic prefill): the script for the rest of the answer,
    when the partial is the start of the script's own answer, as a real model continues,
    and whether it continues a tool call."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") != "assistant":
        return None
    flagged = last.get("prefix") or last.get("partial") or body.get("continue_final_message")
    if protocol == "openai" and not flagged:
        return None
    calls = [c for c in last.get("tool_calls") or [] if isinstance(c, dict)]
    text = _text_of(last.get("content"))
    if calls:
        args = str((calls[-1].get("function") or {}).get("arguments") or "")
        rest = _rest(script.tool_arguments, args)
        return msgspec.structs.replace(script, reasoning=None, tool_arguments=rest), True
    if text:
        return msgspec.structs.replace(script, reasoning=None, text=_rest(script.text, text)), False
    reasoning = _rest(script.reasoning or "", str(last.get("reasoning_content") or ""))
    return msgspec.structs.replace(script, reasoning=reasoning), False


def _rest(whole: str, start: str) -> str:
    return whole[len(start) :] if whole.startswith(start) else whole


def reply_text(script: Script, turn: Turn) -> str:
    return turn.reply if turn.reply is not None else script.text


def split_text(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    cuts = [i * size + min(i, extra) for i in range(n + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


def completion_tokens(script: Script, turn: Turn) -> int:
    if turn.tool:
        out = script.parallel_calls * len(script.tool_arguments.split())
    else:
        out = len(reply_text(script, turn).split())
    return max(1, out + len((script.reasoning or "").split()))
