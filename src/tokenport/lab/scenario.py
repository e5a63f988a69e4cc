"""Workload scenarios for `tokenport simulate`: the file format, and the requests it plans.

A scenario states a market as tokens per model per simulated week (plus apps, user countries
and request shapes); `plan_requests` turns it into concrete requests whose tokens add up to
those volumes, scaled down to `requests` requests. Planning is a pure function of the scenario
and a seed, so a run is reproducible and the expected rankings are known before it starts.

Each model-week gets a token budget and draws log-normal requests while they fit in it; one
last request is sized to land exactly on it, so per-model weekly volumes are exact rather
than subject to sampling noise. Failed requests are drawn on top: a failure
carries no tokens in the ledger, so it must not eat into the budget.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import tomllib
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import msgspec

from tokenport.errors import ConfigError

WEEK = 7 * 86_400
_MAX_PROMPT = 50_000
_MAX_COMPLETION = 8_000


class Lengths(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    prompt_median: float = 800.0
    prompt_sigma: float = 0.9
    completion_median: float = 120.0
    completion_sigma: float = 0.8
    cache_hit_share: float = 0.5
    stream_share: float = 0.6


class ModelSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str  # a catalog id: price, author and country come from the catalog
    weekly_tokens_t: list[float]
    label: str | None = None
    latency_ms: float = 800.0
    tokens_per_s: float = 60.0
    failure_rate: float = 0.01
    prompt_median: float | None = None
    completion_median: float | None = None


class Share(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    share: float
    name: str = ""
    code: str = ""


class Check(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Tolerances. Shares: absolute, in percentage points. Growth: relative error of the
    ratio this-week / earlier-week, in percent (a +127% growth read as +120% is 3.1% off)."""

    share_pp: float = 1.0
    growth_pct: float = 6.0
    model_growth_pct: float = 10.0
    users_pp: float = 0.5
    app_pp: float = 3.0


class Meta(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    start: str
    weeks: int
    description: str = ""
    requests: int = 20_000
    users: int = 400
    seed: int = 0
    time_scale: float = 0.01


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scenario: Meta
    models: list[ModelSpec] = msgspec.field(name="model")
    lengths: Lengths = Lengths()
    apps: list[Share] = msgspec.field(name="app", default_factory=list)
    countries: list[Share] = msgspec.field(name="country", default_factory=list)
    check: Check = Check()
    claims: dict[str, float] = msgspec.field(default_factory=dict)

    @property
    def start_ts(self) -> int:
        return calendar.timegm(dt.date.fromisoformat(self.scenario.start).timetuple())

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.scenario.weeks * WEEK


class Planned(NamedTuple):
    """One request to send. `key` indexes the simulation's keys; tokens are what the fake
    upstream will report: prompt = `words` sent + `cached` (scripted cache hits)."""

    ts: float
    model: int
    words: int
    cached: int
    completion: int
    stream: bool
    app: str | None
    key: int
    fail: bool


def builtin_names() -> list[str]:
    folder = resources.files("tokenport.lab").joinpath("scenarios")
    names = (p.name for p in folder.iterdir())
    return sorted(n.removesuffix(".toml") for n in names if n.endswith(".toml"))


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name (`feb-2026`) or a TOML file by path. Raises ConfigError."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read the scenario file {path}: {exc.strerror}") from None
    elif name_or_path in builtin_names():
        folder = resources.files("tokenport.lab").joinpath("scenarios")
        text = folder.joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    else:
        known = ", ".join(builtin_names())
        raise ConfigError(f"No scenario {name_or_path!r}: use one of {known}, or a .toml path.")
    try:
        scenario = msgspec.convert(tomllib.loads(text), Scenario)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"Scenario {name_or_path}: {exc}") from None
    validate(scenario)
    return scenario


def validate(s: Scenario) -> None:
    weeks = s.scenario.weeks
    problems = [
        f"model {m.id}: {len(m.weekly_tokens_t)} weekly volumes for {weeks} weeks"
        for m in s.models
        if len(m.weekly_tokens_t) != weeks
    ]
    if not s.models or weeks < 1:
        problems.append("needs at least one [[model]] and one week")
    for what, shares in (("app", s.apps), ("country", s.countries)):
        if sum(x.share for x in shares) > 1.0 + 1e-9:
            problems.append(f"{what} shares add up to more than 1")
    if any(not 0 <= m.failure_rate < 1 for m in s.models):
        problems.append("failure_rate must be in [0, 1)")
    try:
        dt.date.fromisoformat(s.scenario.start)
    except ValueError:
        problems.append(f"start {s.scenario.start!r} is not an ISO date")
    if problems:
        raise ConfigError(f"Scenario {s.scenario.name}: " + "; ".join(problems))


def _mean(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2)


def _shape(s: Scenario, m: ModelSpec) -> tuple[float, float]:
    L = s.lengths
    return (m.prompt_median or L.prompt_median, m.completion_median or L.completion_median)


def key_countries(s: Scenario, users: int) -> list[str | None]:
    """One registered country per key, split by largest remainder so the shares are as exact
    as `users` allows; the share no country claims goes to keys with none."""
    unlisted = max(0.0, 1.0 - sum(c.share for c in s.countries))
    quotas: list[tuple[str | None, float]] = [(c.code, c.share * users) for c in s.countries]
    quotas.append((None, unlisted * users))
    counts = [int(q) for _, q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: quotas[i][1] - counts[i], reverse=True)
    for i in by_remainder[: users - sum(counts)]:
        counts[i] += 1
    return [code for (code, _), n in zip(quotas, counts, strict=True) for _ in range(n)]


def plan_requests(s: Scenario, requests: int, seed: int | None = None) -> list[Planned]:
    """About `requests` requests (plus failures) in time order, reproducing the scenario."""
    rng = random.Random(s.scenario.seed if seed is None else seed)
    # Simulated tokens per real trillion, chosen so that about `requests` requests result.
    per_t = requests / sum(sum(m.weekly_tokens_t) / _mean_tokens(s, m) for m in s.models)
    out: list[Planned] = []
    for i, m in enumerate(s.models):
        for week, volume in enumerate(m.weekly_tokens_t):
            out += _model_week(s, rng, i, week, volume * per_t)
    out.sort(key=lambda p: p.ts)
    return _assign_keys(out, s.scenario.users, rng)


def _mean_tokens(s: Scenario, m: ModelSpec) -> float:
    prompt, completion = _shape(s, m)
    L = s.lengths
    return _mean(prompt, L.prompt_sigma) + _mean(completion, L.completion_sigma)


def _model_week(s: Scenario, rng: random.Random, i: int, week: int, budget: float) -> list[Planned]:
    out: list[Planned] = []
    spent = 0
    while True:
        req = _draw(s, rng, i, week, fail=False)
        size = req.words + req.cached + req.completion
        if spent + size > budget:
            break
        out.append(req)
        spent += size
    rest = round(budget) - spent
    if rest >= 2:  # one request sized to land exactly on the budget
        out.append(_sized(s, req, rest))
    rate = s.models[i].failure_rate
    failures = sum(1 for _ in out if rng.random() < rate)
    return out + [_draw(s, rng, i, week, fail=True) for _ in range(failures)]


def _sized(s: Scenario, like: Planned, tokens: int) -> Planned:
    prompt_median, completion_median = _shape(s, s.models[like.model])
    completion = max(
        1, min(tokens - 1, round(tokens * completion_median / (prompt_median + completion_median)))
    )
    prompt = tokens - completion
    cached = min(prompt - 1, int(prompt * s.lengths.cache_hit_share))
    return like._replace(words=prompt - cached, cached=cached, completion=completion)


def _draw(s: Scenario, rng: random.Random, i: int, week: int, *, fail: bool) -> Planned:
    m, L = s.models[i], s.lengths
    prompt_median, completion_median = _shape(s, m)
    prompt = _lognormal(rng, prompt_median, L.prompt_sigma, 2, _MAX_PROMPT)
    cached = int(prompt * L.cache_hit_share)
    completion = _lognormal(rng, completion_median, L.completion_sigma, 1, _MAX_COMPLETION)
    apps = [a.name for a in s.apps] + [None]
    weights = [a.share for a in s.apps] + [max(0.0, 1 - sum(a.share for a in s.apps))]
    return Planned(
        ts=s.start_ts + week * WEEK + rng.random() * WEEK,
        model=i,
        words=prompt - cached,
        cached=cached,
        completion=completion,
        stream=rng.random() < L.stream_share,
        app=rng.choices(apps, weights)[0],
        key=0,
        fail=fail,
    )


def _lognormal(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return min(high, max(low, round(rng.lognormvariate(math.log(median), sigma))))


def _assign_keys(planned: list[Planned], users: int, rng: random.Random) -> list[Planned]:
    # Round-robin over a shuffled order: every key is active and carries an equal share of
    # requests, so traffic by user country follows the key split exactly.
    order = list(range(max(1, users)))
    rng.shuffle(order)
    return [p._replace(key=order[n % len(order)]) for n, p in enumerate(planned)]


class Expected(msgspec.Struct):
    """What the rankings of a faithful run show, from the scenario's own numbers."""

    model_share: dict[str, float]  # catalog id -> share of all the scenario's tokens
    weekly: dict[str, list[float]]  # catalog id -> tokens (T) per week
    user_share: dict[str, float]  # country -> share of keys
    app_share: dict[str, float]  # app -> share of requests


def expected(s: Scenario, users: int) -> Expected:
    total = sum(sum(m.weekly_tokens_t) for m in s.models)
    countries = key_countries(s, users)
    user_share: dict[str, float] = {}
    for c in countries:
        user_share[c or "??"] = user_share.get(c or "??", 0.0) + 1 / len(countries)
    return Expected(
        model_share={m.id: sum(m.weekly_tokens_t) / total for m in s.models},
        weekly={m.id: list(m.weekly_tokens_t) for m in s.models},
        user_share=user_share,
        app_share={a.name: a.share for a in s.apps},
    )
