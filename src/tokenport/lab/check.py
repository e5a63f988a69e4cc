"""Does the ledger reproduce the scenario? Expected shares and growth against the rankings.

The rankings are read exactly as a user would read them (weekly, rolling, ending at the
scenario's end, one period per simulated week), so this checks the whole path: planner,
gateway, ledger, rollups and rankings. Tolerances come from the scenario's [check] table,
in percentage points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from tokenport.analytics.rankings import Rankings, Section, bloc, model_info
from tokenport.analytics.service import Query
from tokenport.catalog.store import Catalog
from tokenport.lab.scenario import Scenario, expected


class CheckRow(msgspec.Struct):
    """`tolerance` is absolute for shares; for growth (`relative`) it bounds the relative
    error of the ratio 1 + growth."""

    metric: str
    expected: float
    measured: float | None
    tolerance: float
    ok: bool
    relative: bool = False


class Claim(msgspec.Struct):
    claim: str
    published: float
    measured: float | None


class CheckReport(msgspec.Struct):
    ok: bool
    passed: int
    failed: int
    rows: list[CheckRow]
    claims: list[Claim]


def check_query(s: Scenario) -> Query:
    """The rankings query the check reads: one rolling week per simulated week."""
    weeks = s.scenario.weeks
    return Query(
        window="week",
        mode="rolling",
        end=str(s.end_ts),
        periods=max(2, weeks),
        span=max(1, weeks - 1),
        limit=100,
    )


def check(s: Scenario, r: Rankings, catalog: Catalog, users: int) -> CheckReport:
    exp = expected(s, users)
    tol = s.check
    rows: list[CheckRow] = []
    weeks = s.scenario.weeks
    ids = {m.id: model_info(m.id, catalog) for m in s.models}
    groups: dict[str, Callable[[str], str]] = {
        "model": lambda mid: ids[mid].id,
        "author": lambda mid: ids[mid].author,
        "country": lambda mid: bloc(ids[mid].country),
    }
    for by, key in groups.items():
        want = _weekly(exp.weekly, key, weeks)
        got = _history(r.sections[by], weeks)
        growth_pct = tol.model_growth_pct if by == "model" else tol.growth_pct
        rows += _compare_weekly(by, want, got, tol.share_pp, growth_pct)
    geo = r.sections["geography"]
    for code, share in sorted(exp.user_share.items(), key=lambda kv: -kv[1]):
        found = next((e.share for e in geo.rows if e.id == code), None)
        rows.append(_row(f"users {code} share", share, found, tol.users_pp))
    named = sum(exp.app_share.values())
    app_got = _history(r.sections["app"], weeks)
    app_total = sum(sum(v) for v in app_got.values())
    for app, share in exp.app_share.items():
        measured = sum(app_got[app]) / app_total if app in app_got and app_total else None
        rows.append(_row(f"app {app} share", share / named, measured, tol.app_pp))
    failed = sum(not row.ok for row in rows)
    return CheckReport(failed == 0, len(rows) - failed, failed, rows, _claims(s, r, weeks))


def _weekly(
    weekly: Mapping[str, list[float]], key: Callable[[str], str], weeks: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for mid, volumes in weekly.items():
        acc = out.setdefault(key(mid), [0.0] * weeks)
        for i, v in enumerate(volumes):
            acc[i] += v
    return out


def _history(section: Section, weeks: int) -> dict[str, list[float]]:
    rows = [*section.rows, *([section.other] if section.other else [])]
    return {e.id: [float(t) for t in e.history[-weeks:]] for e in rows}


def _compare_weekly(
    by: str,
    want: dict[str, list[float]],
    got: dict[str, list[float]],
    share_pp: float,
    growth_pct: float,
) -> list[CheckRow]:
    want_total = sum(sum(v) for v in want.values())
    got_total = sum(sum(v) for v in got.values())
    rows = []
    for name, volumes in sorted(want.items(), key=lambda kv: -sum(kv[1])):
        measured = got.get(name)
        share = sum(measured) / got_total if measured and got_total else None
        rows.append(_row(f"{by} {name} share", sum(volumes) / want_total, share, share_pp))
        spans = {"w/w": -2, f"{len(volumes) - 1}w": 0} if len(volumes) > 2 else {"w/w": -2}
        for label, base in spans.items() if len(volumes) > 1 else ():
            want_growth = _g(volumes[-1], volumes[base])
            growth = _g(measured[-1], measured[base]) if measured else None
            rows.append(_growth_row(f"{by} {name} growth {label}", want_growth, growth, growth_pct))
    return rows


def _g(now: float, before: float) -> float:
    return now / before - 1 if before else 0.0


def _growth_row(metric: str, want: float, got: float | None, tolerance_pct: float) -> CheckRow:
    tolerance = tolerance_pct / 100
    if got is None:
        ok = False
    elif want <= -1:  # the expected volume vanished: nothing to be relative to
        ok = abs(got - want) <= tolerance
    else:
        ok = abs((1 + got) / (1 + want) - 1) <= tolerance
    return CheckRow(metric, want, got, tolerance, ok, relative=True)


def _row(metric: str, want: float, got: float | None, tolerance_pp: float) -> CheckRow:
    tolerance = tolerance_pp / 100
    ok = got is not None and abs(got - want) <= tolerance
    return CheckRow(metric, want, got, tolerance, ok)


def _claims(s: Scenario, r: Rankings, weeks: int) -> list[Claim]:
    """The published headline figures beside what this run's ledger shows."""
    models = _history(r.sections["model"], weeks)
    countries = _history(r.sections["country"], weeks)
    top = sorted(models.items(), key=lambda kv: -sum(kv[1]))[:10]
    top_total = sum(sum(v) for _, v in top)
    cn_ids = {e.id for e in r.sections["model"].rows if e.country == "CN"}
    cn_top = [v for k, v in top if k in cn_ids]
    cn_top_total = sum(sum(v) for v in cn_top)
    geo = {e.id: e.share for e in r.sections["geography"].rows}
    claims = s.claims
    out: list[Claim] = []

    def add(name: str, key: str, measured: float | None) -> None:
        if key in claims:
            out.append(Claim(name, claims[key], measured))

    share = cn_top_total / top_total if top_total else None
    if "cn_top10_tokens_t" in claims and "top10_tokens_t" in claims:
        published = claims["cn_top10_tokens_t"] / claims["top10_tokens_t"]
        out.append(Claim("Chinese share of top-ten tokens", published, share))
    cn, us = countries.get("CN"), countries.get("US")
    add("Chinese growth over the weeks", "cn_growth_3w", _g(cn[-1], cn[0]) if cn else None)
    if cn and us and "cn_growth_3w" in claims:
        ratio = _g(cn[-1], cn[0]) / _g(us[-1], us[0]) if _g(us[-1], us[0]) else None
        out.append(Claim("Chinese growth / US growth", 3.0, ratio))
    if top_total and "top10_tokens_t" in claims:
        peak = max(sum(v[i] for v in cn_top) for i in range(weeks)) if cn_top else 0.0
        scaled = peak / top_total * claims["top10_tokens_t"]
        add("Chinese weekly peak, T tokens (scaled)", "cn_weekly_peak_t", scaled)
    add("users in the US", "users_us", geo.get("US"))
    add("users in China", "users_cn", geo.get("CN"))
    return out
