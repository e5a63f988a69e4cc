"""Typed values the generators hand the driver: accounts, their keys' origin, their requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Label = Literal["abuse", "honest"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One chat completion as a client sends it, at a simulated time."""

    ts: float  # Unix seconds (X-Tokenport-Sim-Time)
    messages: tuple[Message, ...]
    ip: str  # the client address the trusted proxy reports (X-Forwarded-For)
    user_agent: str
    max_tokens: int | None = None
    temperature: float | None = None
    tools: bool = False  # offer the shared agent tool set
    reasoning: bool = False  # ask for reasoning (reasoning_effort)
    app: str | None = None  # X-Title


@dataclass(slots=True)
class Account:
    """One key and everything sent with it. `group` is the style (abuse) or population
    (honest); `unit` the campaign, class or app it belongs to."""

    name: str
    label: Label
    group: str
    unit: str
    created_at: float
    created_ip: str
    requests: list[Request] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Window:
    """The simulated period: `days` UTC days from `start`."""

    start: float
    days: int

    @property
    def end(self) -> float:
        return self.start + self.days * 86400.0
