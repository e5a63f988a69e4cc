"""Guardrails at admission: what a workspace or a key lets through, on every door.

A policy (per workspace, and per key on top of it: a request passes both) may
- allow or deny models (shell patterns, as `allowed_models`) and providers;
- cap `max_tokens` (a request without one gets the cap) and the price per million tokens
  (routes dearer than the cap, in or out, are dropped from the candidates);
- scan the prompt for e-mail addresses, card numbers (Luhn-checked), API keys and secrets,
  and custom regexes, and either block the request or redact what it found (counted,
  never stored);
- block prompt-injection patterns (built-in, and custom ones matched against the lower-cased
  prompt), saying which one matched.

A refusal is a 403 in the door's own error shape with a readable code (`guardrail_model`,
`guardrail_provider`, `guardrail_max_tokens`, `guardrail_price`, `guardrail_dlp`,
`guardrail_injection`). Policies are compiled once when loaded (`GuardrailBook`), so a
request pays only for the checks its policies enable, and nothing without a policy.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Literal

import msgspec

from tokenport.errors import BadRequest, Forbidden
from tokenport.security.keys import ApiKey
from tokenport.values import ChatRequest, Route

Detector = Literal["email", "card", "secret"]
_Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class GuardrailPolicy(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`PUT /api/v1/guardrails/{level}/{subject}`: every field optional."""

    allow_models: list[_Pattern] | None = None
    deny_models: list[_Pattern] = msgspec.field(default_factory=list)
    allow_providers: list[_Pattern] | None = None
    deny_providers: list[_Pattern] = msgspec.field(default_factory=list)
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    max_price_per_mtok: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    dlp: Literal["off", "block", "redact"] = "off"
    dlp_detect: list[Detector] = msgspec.field(
        default_factory=lambda: list[Detector](["email", "card", "secret"])
    )
    dlp_patterns: list[_Pattern] = msgspec.field(default_factory=list)  # custom regexes
    injection: bool = False  # block the built-in prompt-injection patterns
    injection_patterns: list[_Pattern] = msgspec.field(default_factory=list)


class GuardrailRefused(Forbidden):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# Each detector is a function of the text returning the spans it found, so that the cheap
# ones can skip a 4 KB prompt without a regex scan (a lookbehind or a leading character
# class makes Python's `re` try every position).
_EMAIL_AT = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"[0-9](?:[ -]?[0-9]){12,18}")
_SECRET = re.compile(
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|tp-[A-Za-z0-9_-]{30,}|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# (keyword, pattern): a pattern runs, on the lower-cased text, only if its keyword is there.
INJECTION_PATTERNS = (
    (
        "ignore",
        r"ignore (?:all |any )?(?:the )?(?:previous|prior|above) (?:instructions|prompts?|rules)",
    ),
    (
        "disregard",
        r"disregard (?:all |any )?(?:the )?(?:previous|prior|above|system) (?:instructions|prompt)",
    ),
    (
        " prompt",
        r"(?:reveal|print|show|repeat) (?:me )?(?:your|the) (?:system|hidden|initial) prompt",
    ),
    ("you are now", r"you are now (?:dan|in developer mode|jailbroken)"),
    ("pretend", r"pretend (?:that )?you have no (?:rules|restrictions|guidelines)"),
)
Spans = list[tuple[int, int]]


def find_emails(text: str) -> Spans:
    if "@" not in text:
        return []
    spans: Spans = []
    at = text.find("@")
    while at != -1:
        start = max(0, at - 64)
        m = _EMAIL_AT.search(text, start, at + 256)
        while m is not None and m.end() <= at:
            m = _EMAIL_AT.search(text, m.end(), at + 256)
        if m is not None and m.start() <= at < m.end():
            spans.append((m.start(), m.end()))
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)
    return spans


def find_cards(text: str) -> Spans:
    spans: Spans = []
    for m in _CARD.finditer(text):
        a, b = m.span()
        if (a and text[a - 1] in "-0123456789") or (b < len(text) and text[b] in "-0123456789"):
            continue
        if luhn(m.group(0).replace(" ", "").replace("-", "")):
            spans.append((a, b))
    return spans


def _regex(pattern: re.Pattern[str]) -> Callable[[str], Spans]:
    return lambda text: [m.span() for m in pattern.finditer(text)]


_SECRET_MARKS = (
    "sk-",
    "tp-",
    "AKIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "xox",
    "AIza",
    "-----BEGIN",
)


def find_secrets(text: str) -> Spans:
    if not any(mark in text for mark in _SECRET_MARKS):  # substring scans run in C
        return []
    return [m.span() for m in _SECRET.finditer(text)]


BUILTIN: dict[str, Callable[[str], Spans]] = {
    "email": find_emails,
    "card": find_cards,
    "secret": find_secrets,
}


def luhn(digits: str) -> bool:
    total, double = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total % 10 == 0


class Compiled:
    """One policy, its regexes compiled once."""

    def __init__(self, name: str, p: GuardrailPolicy) -> None:
        self.name = name
        self.p = p
        try:
            self._compile(p)
        except re.error as exc:
            raise BadRequest(f"A guardrail pattern is not a valid regex: {exc}.") from exc

    def _compile(self, p: GuardrailPolicy) -> None:
        custom = [(f"pattern {i + 1}", _regex(re.compile(x))) for i, x in enumerate(p.dlp_patterns)]
        self.detect: list[tuple[str, Callable[[str], Spans]]] = []
        if p.dlp != "off":
            self.detect = [(d, BUILTIN[d]) for d in p.dlp_detect] + custom
        builtin = INJECTION_PATTERNS if p.injection else ()
        self.keyworded = [(k, re.compile(x)) for k, x in builtin]
        # Custom ones too match the lower-cased prompt (so write them in lower case):
        # IGNORECASE would cost Python's `re` its literal-prefix search.
        self.injection = [re.compile(x) for x in p.injection_patterns]

    def check(self, request: ChatRequest, routes: list[Route]) -> dict[str, int]:
        """Raise the policy's refusal, or return what was redacted (kind -> count)."""
        p = self.p
        for model in [request.model, *(request.models or [])]:
            if _refused(model, p.allow_models, p.deny_models):
                raise GuardrailRefused(
                    "guardrail_model", f"The {self.name} guardrail does not allow '{model}'."
                )
        self._routes(routes)
        if p.max_tokens is not None:
            cap = request.output_cap()
            if cap is None:
                request.max_tokens = p.max_tokens
            elif cap > p.max_tokens:
                raise GuardrailRefused(
                    "guardrail_max_tokens",
                    f"max_tokens {cap} is over the {self.name} guardrail's cap of {p.max_tokens}.",
                )
        if self.injection or self.keyworded:
            self._injection(request)
        return self._dlp(request) if self.detect else {}

    def _routes(self, routes: list[Route]) -> None:
        p = self.p
        if p.allow_providers is None and not p.deny_providers and p.max_price_per_mtok is None:
            return
        kept = [r for r in routes if not _refused(r.provider, p.allow_providers, p.deny_providers)]
        if not kept:
            raise GuardrailRefused(
                "guardrail_provider",
                f"The {self.name} guardrail allows none of this model's providers "
                f"({', '.join(sorted({r.provider for r in routes}))}).",
            )
        cap = p.max_price_per_mtok
        if cap is not None:
            kept = [r for r in kept if max(r.pricing.input, r.pricing.output) <= cap]
            if not kept:
                raise GuardrailRefused(
                    "guardrail_price",
                    f"Every route for this model costs more than the {self.name} guardrail's "
                    f"${cap:g} per million tokens.",
                )
        routes[:] = kept  # the gateway tries only what the policy lets through

    def _injection(self, request: ChatRequest) -> None:
        for text in _texts(request):
            lower = text.lower()
            hits = [p for k, p in self.keyworded if k in lower and p.search(lower)]
            hits += [p for p in self.injection if p.search(lower)]
            if hits:
                raise GuardrailRefused(
                    "guardrail_injection",
                    f"The prompt matches a prompt-injection pattern of the {self.name} "
                    f"guardrail: /{hits[0].pattern}/.",
                )

    def _dlp(self, request: ChatRequest) -> dict[str, int]:
        found: dict[str, int] = {}
        for m in request.messages:
            if isinstance(m.content, str):
                m.content = self._scan(m.content, found)
            elif isinstance(m.content, list):
                for part in m.content:
                    if isinstance(part.get("text"), str):
                        part["text"] = self._scan(part["text"], found)
        if found and self.p.dlp == "block":
            kinds = ", ".join(f"{k} ({n})" for k, n in sorted(found.items()))
            raise GuardrailRefused(
                "guardrail_dlp",
                f"The prompt contains data the {self.name} guardrail blocks: {kinds}.",
            )
        return found

    def _scan(self, text: str, found: dict[str, int]) -> str:
        spans: list[tuple[int, int, str]] = []
        for kind, detect in self.detect:
            for a, b in detect(text):
                spans.append((a, b, kind))
                found[kind] = found.get(kind, 0) + 1
        if not spans or self.p.dlp != "redact":
            return text
        out, end = [], 0
        for a, b, kind in sorted(spans):
            if a < end:  # inside what an earlier detector redacted
                continue
            out += [text[end:a], f"[REDACTED {kind}]"]
            end = b
        out.append(text[end:])
        return "".join(out)


def _refused(name: str, allow: list[str] | None, deny: list[str]) -> bool:
    lower = name.lower()
    if any(fnmatch.fnmatchcase(lower, d.lower()) for d in deny):
        return True
    return allow is not None and not any(fnmatch.fnmatchcase(lower, a.lower()) for a in allow)


def _texts(request: ChatRequest) -> Iterator[str]:
    for m in request.messages:
        if isinstance(m.content, str):
            yield m.content
        elif isinstance(m.content, list):
            for part in m.content:
                text = part.get("text")
                if isinstance(text, str):
                    yield text


class StoredPolicy(msgspec.Struct, frozen=True):
    level: Literal["workspace", "key"]
    subject: str
    workspace_id: str
    policy: GuardrailPolicy
    updated_at: float


class GuardrailBook:
    """The policies in force, compiled, by what they guard."""

    def __init__(self, stored: Sequence[StoredPolicy] = ()) -> None:
        self._by = {
            (s.level, s.subject): Compiled(f"{s.level} '{s.subject}'", s.policy) for s in stored
        }

    def __bool__(self) -> bool:
        return bool(self._by)

    def for_key(self, key: ApiKey) -> list[Compiled]:
        by = self._by
        out = []
        ws = by.get(("workspace", key.workspace_id))
        if ws is not None:
            out.append(ws)
        own = by.get(("key", key.id))
        if own is not None:
            out.append(own)
        return out


def enforce(policies: list[Compiled], request: ChatRequest, routes: list[Route]) -> dict[str, int]:
    """Every policy's checks; what was redacted, by kind."""
    redacted: dict[str, int] = {}
    for policy in policies:
        for kind, n in policy.check(request, routes).items():
            redacted[kind] = redacted.get(kind, 0) + n
    return redacted
