"""Fill a ledger database with realistic synthetic traffic, fast, for benchmarks and demos.

Records go through `LedgerStore.insert_batch`, so rollups are exactly what real traffic would
produce. The same (seed, n, days, end) gives the same ids, so running `fill` twice adds nothing.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import NamedTuple

from ulid import ULID

from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import open_store
from tokenport.values import Attempt

Progress = Callable[[int, int], None]

_BATCH = 5_000


class _Model(NamedTuple):
    name: str
    providers: tuple[str, ...]
    input_price: float  # USD per million tokens
    output_price: float
    weight: float
    reasoning: bool = False


_MODELS = (
    _Model("openai/gpt-4o-mini", ("openai", "azure"), 0.15, 0.60, 18),
    _Model("openai/gpt-4.1", ("openai", "azure"), 2.0, 8.0, 6),
    _Model(
        "anthropic/claude-sonnet-4", ("anthropic", "amazon-bedrock", "google-vertex"), 3, 15, 14
    ),
    _Model("anthropic/claude-3.5-haiku", ("anthropic", "amazon-bedrock"), 0.8, 4.0, 5),
    _Model("google/gemini-2.5-flash", ("google-ai-studio", "google-vertex"), 0.30, 2.50, 12),
    _Model("google/gemini-2.5-pro", ("google-ai-studio", "google-vertex"), 1.25, 10, 5, True),
    _Model("deepseek/deepseek-chat-v3", ("deepseek", "together", "fireworks"), 0.27, 1.10, 10),
    _Model("deepseek/deepseek-r1", ("deepseek", "together"), 0.55, 2.19, 4, True),
    _Model("meta-llama/llama-3.3-70b-instruct", ("groq", "together", "cerebras"), 0.59, 0.79, 8),
    _Model("qwen/qwen3-235b-a22b", ("together", "fireworks"), 0.20, 0.60, 5, True),
    _Model("mistralai/mistral-small-3.1", ("mistral",), 0.10, 0.30, 3),
    _Model("local/smollm2-135m-instruct", ("local",), 0.0, 0.0, 2),
)
_TOKENS_PER_S = {"groq": 400.0, "cerebras": 1200.0, "local": 60.0}
_REGION = {"azure": "eu-west", "amazon-bedrock": "us-east", "local": "local"}
_APPS = ("cline", "roo-code", "aider", "sillytavern", "open-webui", "support-bot", "rag-search")
_ERRORS = (
    ("UpstreamTimeout", 504),
    ("UpstreamServerError", 502),
    ("UpstreamRateLimited", 429),
    ("AllProvidersFailed", 502),
)
# Requests by hour of day (UTC): a daytime peak, a quiet night.
_HOUR_WEIGHTS = tuple(1.0 + 0.8 * math.sin((h - 9) / 24 * 2 * math.pi) for h in range(24))


class _Gen:
    def __init__(self, seed: int, days: int, end: float) -> None:
        self.rng = random.Random(seed)
        self.start_day = int(end // 86400) - days + 1
        self.days = days
        self.keys = [(f"key_{i:03d}", self.rng.choice((*_APPS, None))) for i in range(60)]
        self.key_weights = [1 / (i + 1) ** 0.9 for i in range(len(self.keys))]
        self.model_weights = [m.weight for m in _MODELS]

    def record(self) -> LedgerRecord:
        rng = self.rng
        ts = self._ts()
        model = rng.choices(_MODELS, self.model_weights)[0]
        provider = rng.choice(model.providers)
        key_id, app = rng.choices(self.keys, self.key_weights)[0]
        rid = str(ULID.from_bytes(int(ts * 1000).to_bytes(6, "big") + rng.randbytes(10)))
        base = LedgerRecord(
            id=rid,
            ts=ts,
            model_requested=model.name,
            status="ok",
            key_id=key_id,
            app=app,
            model_served=model.name,
            provider=provider,
            region=_REGION.get(provider, "us-east"),
            stream=rng.random() < 0.6,
            prompt_tokens=min(int(rng.lognormvariate(math.log(1200), 1.2)) + 8, 200_000),
        )
        if rng.random() < 0.03:
            return self._error(base)
        return self._served(base, model)

    def _ts(self) -> float:
        day = self.start_day + self.rng.randrange(self.days)
        hour = self.rng.choices(range(24), _HOUR_WEIGHTS)[0]
        return day * 86400 + hour * 3600 + self.rng.random() * 3600

    def _served(self, r: LedgerRecord, model: _Model) -> LedgerRecord:
        rng = self.rng
        r.completion_tokens = min(int(rng.lognormvariate(math.log(300), 1.0)) + 1, 16_000)
        if model.reasoning:
            r.reasoning_tokens = int(r.completion_tokens * rng.uniform(0.3, 0.8))
        if rng.random() < 0.35:
            r.cached_tokens = int(r.prompt_tokens * rng.uniform(0.3, 0.9))
        uncached = r.prompt_tokens - r.cached_tokens
        r.cost = (
            uncached * model.input_price
            + r.cached_tokens * model.input_price * 0.25
            + r.completion_tokens * model.output_price
        ) / 1e6
        ttft = rng.lognormvariate(math.log(450), 0.5)
        tps = _TOKENS_PER_S.get(r.provider or "", 90.0) * rng.uniform(0.6, 1.3)
        r.latency_ms = round(ttft + r.completion_tokens / tps * 1000, 1)
        r.ttft_ms = round(ttft, 1) if r.stream else None
        r.finish_reason = rng.choices(("stop", "length", "tool_calls"), (85, 8, 7))[0]
        if r.provider == "local":
            r.energy_wh = round((r.prompt_tokens + r.completion_tokens) * 0.0004, 4)
            r.usage_estimated = rng.random() < 0.5
        r.attempts = self._attempts(r, model)
        return r

    def _attempts(self, r: LedgerRecord, model: _Model) -> list[Attempt]:
        served = Attempt(
            provider=r.provider or "", model=model.name, status="ok", latency_ms=r.latency_ms
        )
        others = [p for p in model.providers if p != r.provider]
        if not others or self.rng.random() > 0.05:
            return [served]
        failed = Attempt(
            provider=self.rng.choice(others),
            model=model.name,
            status="error",
            latency_ms=round(self.rng.uniform(50, 3000), 1),
            error_class="UpstreamServerError",
            http_status=503,
        )
        return [failed, served]

    def _error(self, r: LedgerRecord) -> LedgerRecord:
        error_class, http_status = self.rng.choice(_ERRORS)
        r.status, r.error_class, r.http_status = "error", error_class, http_status
        r.finish_reason = "error"
        r.latency_ms = round(self.rng.uniform(100, 30_000), 1)
        if error_class == "AllProvidersFailed":
            r.model_served = r.provider = None
        r.attempts = [
            Attempt(
                provider=r.provider or "unknown",
                model=r.model_requested,
                status="error",
                latency_ms=r.latency_ms,
                error_class=error_class,
                http_status=http_status,
            )
        ]
        return r


def records(
    n: int, *, seed: int = 0, days: int = 30, end: float | None = None
) -> list[LedgerRecord]:
    """`n` synthetic records over the `days` UTC days ending with the day of `end` (now)."""
    gen = _Gen(seed, days, time.time() if end is None else end)
    return [gen.record() for _ in range(n)]


def fill(
    database_url: str,
    n: int,
    *,
    seed: int = 0,
    days: int = 30,
    progress: Progress | None = None,
    end: float | None = None,
) -> int:
    """Insert `n` synthetic records (and their rollups); return how many were new.

    `progress(done, n)` is called after each batch.
    """
    gen = _Gen(seed, days, time.time() if end is None else end)
    store = open_store(database_url)
    try:
        store.migrate()
        inserted = done = 0
        while done < n:
            batch = [gen.record() for _ in range(min(_BATCH, n - done))]
            inserted += store.insert_batch(batch)
            done += len(batch)
            if progress is not None:
                progress(done, n)
        return inserted
    finally:
        store.close()
