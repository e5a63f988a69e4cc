"""Rankings as pure functions of period-bucketed usage rows, the catalog and the key table.

Input rows are `UsageRow`s whose `bucket` is an index into the plan's periods (what
`source.RollupSource.by_period` returns). Nothing here touches a database or the clock, so the
same numbers come out of the HTTP API, the CLI and the tests.

Shares are of tokens (prompt + completion) in the ranked window; spend by key is ranked by
cost. Growth compares the window with the plan's comparison range; `growth` is None when that
range had no traffic (a new entry), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args, overload

import msgspec

from tokenport.analytics.periods import Period, PeriodPlan, iso
from tokenport.analytics.source import KeyInfo
from tokenport.catalog.authors import UNKNOWN_COUNTRY, author_of, default_authors, last_segment
from tokenport.catalog.store import Catalog
from tokenport.ledger.store import UsageRow

Dimension = Literal["model", "author", "country", "app", "key", "geography"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
# Author countries are grouped into blocs the way the market is discussed: CN, US, EU, ...
_EU_MEMBERS = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
EU = frozenset(_EU_MEMBERS.split(" "))


class Summary(msgspec.Struct):
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    tokens: int = 0
    cost: float = 0.0


class Entry(msgspec.Struct):
    """One ranked row. `history` is tokens per plan period, oldest first."""

    rank: int
    id: str
    name: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    tokens: int
    cost: float
    share: float
    growth: float | None
    growth_span: float | None
    history: list[int]
    author: str | None = None
    country: str | None = None
    users: int | None = None
    avg_latency_ms: float | None = None


class Section(msgspec.Struct):
    by: str
    total: Summary
    rows: list[Entry]
    other: Entry | None = None  # everything past the top `limit`, as one row
    unattributed: Summary | None = None  # apps: requests that named no app


class PeriodOut(msgspec.Struct):
    since: str
    until: str
    label: str
    since_ts: int
    until_ts: int


class Rankings(msgspec.Struct):
    window: str
    mode: str
    end: str
    end_source: str
    period: PeriodOut
    compare: PeriodOut | None
    periods: list[PeriodOut]
    span: int
    empty: bool
    totals: Summary
    sections: dict[str, Section]


class ModelInfo(msgspec.Struct, frozen=True):
    id: str
    name: str
    author: str
    country: str


@dataclass(slots=True)
class RankInput:
    """Rows per source dimension; `*_compare` is None when the comparison is the previous
    period (already in the rows), else the rows of the comparison range (bucket ignored)."""

    models: list[UsageRow] = field(default_factory=list)
    apps: list[UsageRow] = field(default_factory=list)
    keys: list[UsageRow] = field(default_factory=list)
    models_compare: list[UsageRow] | None = None
    apps_compare: list[UsageRow] | None = None
    keys_compare: list[UsageRow] | None = None


@dataclass(slots=True)
class _Acc:
    periods: list[UsageRow]
    compare: UsageRow = field(default_factory=UsageRow)
    users: set[str] = field(default_factory=set)


def bloc(country: str | None) -> str:
    code = (country or UNKNOWN_COUNTRY).upper()
    return "EU" if code in EU else code


def model_info(model_served: str, catalog: Catalog) -> ModelInfo:
    """Who made a served model: the catalog entry, else the entry the upstream id names
    (a user-declared provider serving a known model), else the author rules."""
    entry = catalog.get(model_served)
    provider, _, upstream = model_served.partition("/")
    if entry is None and upstream:
        found = catalog.resolve(upstream)
        entry = found[0] if found else None
    if entry is not None:
        return ModelInfo(f"{entry.author}/{entry.slug}", entry.name, entry.author, entry.country)
    author, country = author_of(upstream or model_served, None, provider)
    name = last_segment(upstream or model_served)
    return ModelInfo(f"{author}/{name}", upstream or model_served, author, country)


def rank(
    plan: PeriodPlan,
    data: RankInput,
    catalog: Catalog,
    keys: Mapping[str, KeyInfo],
    *,
    sections: Sequence[str] = DIMENSIONS,
    limit: int = 10,
    span: int = 3,
    end_source: str = "param",
) -> Rankings:
    """The rankings object served by the API and printed by `tokenport rankings --json`."""
    span = max(1, min(span, len(plan.periods) - 1)) if len(plan.periods) > 1 else 0
    ctx = _Ctx(plan, limit, span)
    infos: dict[str, ModelInfo] = {}

    def info(row: UsageRow) -> ModelInfo:
        name = row.model_served or ""
        if name not in infos:
            infos[name] = model_info(name, catalog) if name else _UNKNOWN
        return infos[name]

    def key_country(row: UsageRow) -> str:
        return (keys.get(row.key_id or "", _NO_KEY).country or UNKNOWN_COUNTRY).upper()

    builders: dict[str, Callable[[], Section]] = {
        "model": lambda: ctx.models(data, info),
        "author": lambda: ctx.grouped("author", data, lambda r: info(r).author),
        "country": lambda: ctx.grouped("country", data, lambda r: bloc(info(r).country)),
        "app": lambda: ctx.apps(data),
        "key": lambda: ctx.keys(data, keys),
        "geography": lambda: ctx.geography(data, key_country),
    }
    totals = _sum(r for r in data.models if r.bucket == len(plan.periods) - 1)
    return Rankings(
        window=plan.window,
        mode=plan.mode,
        end=iso(plan.current.until),
        end_source=end_source,
        period=_period(plan.current),
        compare=_period(plan.compare) if plan.compare else None,
        periods=[_period(p) for p in plan.periods],
        span=span,
        empty=not any(r.requests for r in data.models),
        totals=totals,
        sections={name: builders[name]() for name in sections},
    )


_UNKNOWN = ModelInfo("unknown/unknown", "(no model served)", "unknown", UNKNOWN_COUNTRY)
_NO_KEY = KeyInfo("")


@dataclass(slots=True)
class _Ctx:
    plan: PeriodPlan
    limit: int
    span: int

    @property
    def n(self) -> int:
        return len(self.plan.periods)

    def models(self, data: RankInput, info: Callable[[UsageRow], ModelInfo]) -> Section:
        served = _served(data.models)
        accs = self._accumulate(served, _served(data.models_compare), lambda r: info(r).id)
        firsts = {info(r).id: info(r) for r in served}

        def decorate(e: Entry) -> None:
            i = firsts[e.id]
            e.name, e.author, e.country = i.name, i.author, bloc(i.country)

        return self._section("model", accs, decorate=decorate)

    def grouped(self, by: str, data: RankInput, key: Callable[[UsageRow], str]) -> Section:
        accs = self._accumulate(_served(data.models), _served(data.models_compare), key)
        return self._section(by, accs, decorate=_author_name if by == "author" else None)

    def apps(self, data: RankInput) -> Section:
        named = [r for r in data.apps if r.app]
        compare = None if data.apps_compare is None else [r for r in data.apps_compare if r.app]
        section = self._section("app", self._accumulate(named, compare, lambda r: r.app or ""))
        section.unattributed = _sum(r for r in data.apps if not r.app and r.bucket == self.n - 1)
        return section

    def keys(self, data: RankInput, keys: Mapping[str, KeyInfo]) -> Section:
        accs = self._accumulate(data.keys, data.keys_compare, lambda r: r.key_id or "(no key)")

        def decorate(e: Entry) -> None:
            k = keys.get(e.id)
            e.name = k.name if k else e.id
            e.country = (k.country or UNKNOWN_COUNTRY).upper() if k else UNKNOWN_COUNTRY

        return self._section("key", accs, decorate=decorate, by_cost=True)

    def geography(self, data: RankInput, country: Callable[[UsageRow], str]) -> Section:
        with_key = [r for r in data.keys if r.key_id]
        compare = None if data.keys_compare is None else [r for r in data.keys_compare if r.key_id]
        accs = self._accumulate(with_key, compare, country)
        for r in with_key:
            if r.bucket == self.n - 1 and r.requests:
                accs[country(r)].users.add(r.key_id or "")
        section = self._section("geography", accs, by_users=True)
        return section

    def _accumulate(
        self,
        rows: Iterable[UsageRow],
        compare: Iterable[UsageRow] | None,
        key: Callable[[UsageRow], str],
    ) -> dict[str, _Acc]:
        accs: dict[str, _Acc] = {}
        for r in rows:
            acc = accs.get(key(r))
            if acc is None:
                acc = accs[key(r)] = _Acc([UsageRow() for _ in range(self.n)])
            if r.bucket is not None and 0 <= r.bucket < self.n:
                _add(acc.periods[r.bucket], r)
        if compare is None:
            for acc in accs.values():
                acc.compare = acc.periods[-2] if self.n > 1 else UsageRow()
        else:
            for r in compare:
                if (acc := accs.get(key(r))) is not None:
                    _add(acc.compare, r)
        return accs

    def _section(
        self,
        by: str,
        accs: dict[str, _Acc],
        *,
        decorate: Callable[[Entry], None] | None = None,
        by_cost: bool = False,
        by_users: bool = False,
    ) -> Section:
        # Entries with traffic only in earlier periods stay (ranked last) so the history the
        # charts stack still adds up to the whole ledger.
        total = _sum(a.periods[-1] for a in accs.values())
        users = sum(len(a.users) for a in accs.values())
        share: Callable[[UsageRow], float] = (
            (lambda r: r.cost / total.cost if total.cost else 0.0)
            if by_cost
            else (lambda r: _tokens(r) / total.tokens if total.tokens else 0.0)
        )
        entries = [self._entry(k, a, share, users if by_users else None) for k, a in accs.items()]
        if by_users:
            entries.sort(key=lambda e: (-(e.users or 0), -e.tokens, e.id))
        else:
            entries.sort(key=lambda e: (-e.cost, e.id) if by_cost else (-e.tokens, e.id))
        for i, e in enumerate(entries):
            e.rank = i + 1
            if decorate is not None:
                decorate(e)
        rest = [accs[e.id] for e in entries[self.limit :]]
        other = self._other(rest, share, users if by_users else None) if rest else None
        return Section(by=by, total=total, rows=entries[: self.limit], other=other)

    def _entry(
        self, key: str, acc: _Acc, share: Callable[[UsageRow], float], users: int | None
    ) -> Entry:
        cur = acc.periods[-1]
        history = [_tokens(p) for p in acc.periods]
        base = history[-1 - self.span] if self.span else 0
        fraction = share(cur) if users is None else len(acc.users) / users if users else 0.0
        return Entry(
            rank=0,
            id=key,
            name=key,
            requests=cur.requests,
            errors=cur.errors,
            prompt_tokens=cur.prompt_tokens,
            completion_tokens=cur.completion_tokens,
            reasoning_tokens=cur.reasoning_tokens,
            tokens=history[-1],
            cost=cur.cost,
            share=fraction,
            growth=_growth(history[-1], _tokens(acc.compare)),
            growth_span=_growth(history[-1], base) if self.span else None,
            history=history,
            users=len(acc.users) if users is not None else None,
            avg_latency_ms=round(cur.latency_ms_sum / cur.requests, 1) if cur.requests else None,
        )

    def _other(
        self, rest: list[_Acc], share: Callable[[UsageRow], float], users: int | None
    ) -> Entry:
        merged = _Acc([UsageRow() for _ in range(self.n)])
        for acc in rest:
            for mine, theirs in zip(merged.periods, acc.periods, strict=True):
                _add(mine, theirs)
            _add(merged.compare, acc.compare)
            merged.users |= acc.users
        entry = self._entry("other", merged, share, users)
        entry.name = f"Other ({len(rest)})"
        return entry


@overload
def _served(rows: list[UsageRow]) -> list[UsageRow]: ...
@overload
def _served(rows: None) -> None: ...
def _served(rows: list[UsageRow] | None) -> list[UsageRow] | None:
    """Rows of requests some model served: failures before any model are counted in the
    totals' errors, not ranked as a model of unknown author."""
    return None if rows is None else [r for r in rows if r.model_served]


def _author_name(e: Entry) -> None:
    author = default_authors().get(e.id)
    if author is not None:
        e.name, e.country = author.name, bloc(author.country)


def _add(acc: UsageRow, r: UsageRow) -> None:
    acc.requests += r.requests
    acc.errors += r.errors
    acc.prompt_tokens += r.prompt_tokens
    acc.completion_tokens += r.completion_tokens
    acc.reasoning_tokens += r.reasoning_tokens
    acc.cached_tokens += r.cached_tokens
    acc.cost += r.cost
    acc.latency_ms_sum += r.latency_ms_sum


def _sum(rows: Iterable[UsageRow]) -> Summary:
    acc = UsageRow()
    for r in rows:
        _add(acc, r)
    return Summary(
        requests=acc.requests,
        errors=acc.errors,
        prompt_tokens=acc.prompt_tokens,
        completion_tokens=acc.completion_tokens,
        reasoning_tokens=acc.reasoning_tokens,
        cached_tokens=acc.cached_tokens,
        tokens=_tokens(acc),
        cost=acc.cost,
    )


def _tokens(r: UsageRow | Summary) -> int:
    return r.prompt_tokens + r.completion_tokens


def _growth(now: int, before: int) -> float | None:
    return None if before <= 0 else now / before - 1.0


def _period(p: Period) -> PeriodOut:
    return PeriodOut(iso(p.since), iso(p.until), p.label, p.since, p.until)
