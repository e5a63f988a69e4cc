"""Across accounts: who shares what, which accounts form a network, and how sure that is.

Only accounts whose own behaviour already leans towards harvesting (`CANDIDATE`) are linked,
so that thousands of honest users of one coding agent (one system prompt, one User-Agent) or
one office (one prefix) never merge with a campaign that borrowed the same disguise.

Links are conjunctive: at least `MIN_SHARED` candidates that share a value of two different
kinds at once (a prompt sketch band and a User-Agent, a prefix and a request shape, a
creation burst and a system prompt...), where one of the two is content, a system prompt, an
address or a burst. Only values characteristic of candidates count: used at least twice as
much by candidates as by everyone else, so a default SDK's shape or a common question links
nobody. Accounts that one or two links tie to a network are pruned from it.

A network's score grows with its size, its members' own scores and the evidence they share,
and is capped by how many independent kinds of evidence are present: a common source of
prompts and clients alone (a public benchmark run by several teams) stays below a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tokenport.abusescan.days import S
from tokenport.abusescan.detectors import ramp
from tokenport.abusescan.features import Features
from tokenport.abusescan.window import Window

F = npt.NDArray[np.float64]
CANDIDATE = 0.25
MIN_SHARED = 3
MIN_NETWORK = 3
BURST_S = 900.0
BRIDGE_SHARE = 0.25  # keys created within the same 15 minutes
LINK_KINDS = ("template_band", "prompt_band", "template", "system", "ip", "prefix")
EVIDENCE_KINDS = (*LINK_KINDS, "ua", "shape")


@dataclass(slots=True)
class Network:
    id: str
    members: list[int]
    score: float
    reasons: list[str]
    shared: dict[str, float] = field(default_factory=dict)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, a: int) -> int:
        p = self.parent
        root = a
        while p[root] != root:
            root = p[root]
        while p[a] != root:
            p[a], a = root, p[a]
        return int(root)

    def union_all(self, members: npt.NDArray[np.int64]) -> None:
        first = self.find(int(members[0]))
        for m in members[1:]:
            r = self.find(int(m))
            if r != first:
                self.parent[r] = first


def _shared(
    w: Window, kind: str, candidate: npt.NDArray[np.bool_]
) -> tuple[F, list[npt.NDArray[np.int64]], dict[int, int]]:
    """Per key: the share of its sampled uses of `kind` that at least MIN_SHARED candidates
    share; the groups of candidates sharing each such value; and value -> keys sharing it."""
    key, value, count = w.pairs[kind]
    n = w.size
    zero = np.zeros(n)
    keep = candidate[key] & (value != 0)
    k, v, c = key[keep].astype(np.int64), value[keep], count[keep].astype(np.float64)
    if len(k) == 0:
        return zero, [], {}
    order = np.argsort(v, kind="stable")
    k, v, c = k[order], v[order], c[order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    sizes = np.diff(np.r_[starts, len(v)])
    per_value = np.repeat(sizes, sizes)
    hit = per_value >= MIN_SHARED
    total = np.bincount(k, weights=c, minlength=n)
    shared = np.bincount(k[hit], weights=c[hit], minlength=n)
    groups = [k[s : s + z] for s, z in zip(starts, sizes, strict=True) if z >= MIN_SHARED]
    popular = {int(v[s]): int(z) for s, z in zip(starts, sizes, strict=True) if z >= MIN_SHARED}
    return np.where(total > 0, shared / np.maximum(total, 1), 0.0), groups, popular


def _bursts(f: Features, candidate: npt.NDArray[np.bool_]) -> tuple[F, list[npt.NDArray[np.int64]]]:
    created = f.created_at
    ok = candidate & np.isfinite(created)
    idx = np.flatnonzero(ok)
    n = len(created)
    share = np.zeros(n)
    if len(idx) == 0:
        return share, []
    order = idx[np.argsort(created[idx])]
    t = created[order]
    groups: list[npt.NDArray[np.int64]] = []
    start = 0
    for i in range(1, len(order) + 1):
        if i == len(order) or t[i] - t[i - 1] > BURST_S:
            if i - start >= MIN_SHARED * 2:
                groups.append(order[start:i])
                share[order[start:i]] = 1.0
            start = i
    return share, groups


def _characteristic(
    key: npt.NDArray[np.int32], value: npt.NDArray[np.int64], candidate: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Which (key, value) pairs carry a value characteristic of candidates: used by at least
    MIN_SHARED candidates, and at least as much by candidates as by everyone else. A default
    SDK's request shape, a popular User-Agent or a common question are used by honest users
    too, and link nobody."""
    if len(value) == 0:
        return np.zeros(0, bool)
    uniq, inverse = np.unique(value, return_inverse=True)
    users = np.bincount(inverse, minlength=len(uniq))
    cand = np.bincount(inverse, weights=candidate[key], minlength=len(uniq))
    good = (cand >= MIN_SHARED) & (cand >= (users - cand) * CHARACTERISTIC)
    return np.asarray(good[inverse], bool)


# A value links candidates when at most this many others use it per candidate.
CHARACTERISTIC = 2.0


def _top(w: Window, kind: str, candidate: npt.NDArray[np.bool_], top: int) -> list[list[int]]:
    """Each candidate's `top` most used values of `kind` that are characteristic of
    candidates (`_characteristic`)."""
    key, value, count = w.pairs[kind]
    nz = value != 0
    key, value, count = key[nz], value[nz], count[nz]
    keep = candidate[key] & _characteristic(key, value, candidate)
    k, v, c = key[keep], value[keep], count[keep]
    order = np.lexsort((-c, k))
    out: list[list[int]] = [[] for _ in range(w.size)]
    for i, val in zip(k[order].tolist(), v[order].tolist(), strict=True):
        if len(out[i]) < top:
            out[i].append(val)
    return out


# Evidence kinds a link is made of, and how many of each account's values take part.
SIGNATURE = (
    ("content", ("template_band", "prompt_band", "template"), 4),
    ("system", ("system",), 1),
    ("client", ("ua",), 1),
    ("shape", ("shape",), 1),
    ("address", ("prefix", "ip"), 2),
)


# The User-Agent and the request's shape are how a client is configured, shared by everyone
# using one SDK: the two together do not link accounts; each link needs content, a system
# prompt, an address or a creation burst besides. (max_tokens alone is evidence in a
# network's score, never part of a link.)
_GENERIC = frozenset({"client", "shape"})


def _links(w: Window, f: Features, candidate: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.int64]]:
    """Groups of at least MIN_SHARED candidates that share values of two different kinds at
    once (a template and a User-Agent, a prefix and a request shape, a creation burst and a
    system prompt...): one shared value is common among honest users; two kinds at once,
    over several accounts, is one operator."""
    sig: dict[str, list[list[int]]] = {}
    for name, kinds, top in SIGNATURE:
        merged: list[list[int]] = [[] for _ in range(w.size)]
        for kind in kinds:
            for i, vals in enumerate(_top(w, kind, candidate, top)):
                merged[i].extend(vals)
        sig[name] = merged
    _, groups = _bursts(f, candidate)
    sig["burst"] = [[] for _ in range(w.size)]
    for g_id, g in enumerate(groups):
        for i in g.tolist():
            sig["burst"][i].append(g_id + 1)
    names = list(sig)
    pairs = [
        (x, y)
        for x in range(len(names))
        for y in range(x + 1, len(names))
        if not {names[x], names[y]} <= _GENERIC
    ]
    tokens: dict[tuple[int, int, int, int], list[int]] = {}
    for i in np.flatnonzero(candidate).tolist():
        for x, y in pairs:
            for a in sig[names[x]][i]:
                for b in sig[names[y]][i]:
                    tokens.setdefault((x, a, y, b), []).append(i)
    return [np.array(m, np.int64) for m in tokens.values() if len(m) >= MIN_SHARED]


def build(w: Window, f: Features, own: F) -> tuple[list[Network], dict[str, F]]:
    """Networks among candidate accounts, and each key's shared shares per evidence kind."""
    n = w.size
    candidate = own >= CANDIDATE
    uf = _Union(n)
    shares: dict[str, F] = {}
    popular: dict[str, dict[int, int]] = {}
    for kind in EVIDENCE_KINDS:
        share, _, pop = _shared(w, kind, candidate)
        shares[kind] = share
        popular[kind] = pop
    shares["created_burst"] = _bursts(f, candidate)[0]
    degree = np.zeros(n)
    for g in _links(w, f, candidate):
        uf.union_all(g)
        degree[g] += 1
    roots = np.array([uf.find(i) for i in range(n)]) if n else np.zeros(0, np.int64)
    networks: list[Network] = []
    for root in np.unique(roots[candidate]) if n else []:
        members = np.flatnonzero((roots == root) & candidate)
        # An account that one or two links tie to a network it otherwise shares nothing with
        # (a person whose questions the operator's cover traffic happened to copy) is left
        # out: members share many of the network's links.
        members = members[degree[members] >= BRIDGE_SHARE * np.median(degree[members])]
        if len(members) < MIN_NETWORK:
            continue
        networks.append(_score(w, f, own, shares, popular, members))
    return networks, shares


def _score(
    w: Window,
    f: Features,
    own: F,
    shares: dict[str, F],
    popular: dict[str, dict[int, int]],
    members: npt.NDArray[np.int64],
) -> Network:
    m = members
    size = len(m)
    content = float(np.mean(np.maximum(shares["template_band"][m], shares["prompt_band"][m])))
    exact = float(np.mean(shares["template"][m]))
    system = float(np.mean(shares["system"][m]))
    infra = float(np.mean(np.maximum(shares["ip"][m], shares["prefix"][m])))
    burst = float(np.mean(shares["created_burst"][m]))
    client = float(np.mean(np.minimum(shares["ua"][m], shares["shape"][m])))
    behaviour = float(np.mean(own[m]))
    sync = _synchrony(w, m)
    evidence = {
        "content": content,
        "exact_template": exact,
        "system_prompt": system,
        "addresses": infra,
        "created_burst": burst,
        "client": client,
        "synchronised": sync,
    }
    rotating = float(np.mean((f.ip_per_request[m] >= 0.5) & (f.ips[m] >= 5)))
    young = float(np.mean(np.nan_to_num(f.age_at_first[m], nan=365.0) <= 2.0))
    evidence["rotating_addresses"] = rotating
    evidence["young_keys"] = young
    # What a common source explains (a public benchmark, one SDK): capped well below a flag.
    common = 1 - (1 - 0.45 * content) * (1 - 0.25 * exact) * (1 - 0.3 * client)
    # What only one operator explains: its infrastructure, its key purchases, its schedule.
    operator = 1 - np.prod(
        [
            1 - 0.5 * system,
            1 - 0.6 * infra,
            1 - 0.5 * burst,
            1 - 0.3 * sync,
            1 - 0.5 * rotating,
            1 - 0.55 * young,
        ]
    )
    coordination = 1 - (1 - 0.6 * common) * (1 - operator)
    # Independent kinds of evidence present: one alone (a public benchmark's prompts sent
    # with one SDK; one office's prefix) is a coincidence; several at once is an operator.
    kinds = _categories(content, exact, client, system, infra, burst, young, sync, rotating)
    cap = {0: 0.25, 1: 0.35, 2: 0.8}.get(kinds, 1.0)
    size_factor = float(ramp(np.array([np.log(size)]), np.log(MIN_NETWORK), np.log(30))[0])
    harvest = float(ramp(np.array([behaviour]), 0.2, 0.45)[0])
    raw = (0.5 + 0.5 * size_factor) * coordination * harvest * 1.4
    score = float(np.clip(raw, 0.0, cap))
    reasons = [f"{size} accounts linked by what they share"]
    reasons += _evidence_reasons(w, m, evidence, popular)
    reasons.append(f"members' own behaviour scores {behaviour:.2f} on average")
    ident = "net-" + w.keys[int(min(m, key=lambda i: w.keys[i]))][-10:].lower()
    return Network(ident, [int(i) for i in m], round(score, 4), reasons, evidence)


def _categories(
    content: float,
    exact: float,
    client: float,
    system: float,
    infra: float,
    burst: float,
    young: float,
    sync: float,
    rotating: float,
) -> int:
    present = 0.5
    return sum(
        (
            max(content, exact, client) >= present,  # a common source: prompts, client
            system >= present,  # a private system prompt
            infra >= present,  # addresses
            max(burst, young - 0.2) >= present,  # how the keys were obtained (most new)
            sync >= 0.8,  # when they work
            rotating >= present,  # proxies
        )
    )


def _synchrony(w: Window, members: npt.NDArray[np.int64]) -> float:
    """The share of members whose traffic falls inside the network's common few days: near 1
    when accounts are run in lockstep; 0 when the network's activity spreads over a week+."""
    first = w.stats[members, S["first"]]
    last = w.stats[members, S["last"]]
    lo, hi = float(np.median(first)), float(np.median(last))
    if hi - lo >= 5 * 86400:
        return 0.0
    return float(np.mean((first >= lo - 86400) & (last <= hi + 86400)))


def _evidence_reasons(
    w: Window,
    members: npt.NDArray[np.int64],
    evidence: dict[str, float],
    popular: dict[str, dict[int, int]],
) -> list[str]:
    out: list[str] = []
    if evidence["content"] >= 0.2:
        out.append(
            f"near-duplicate prompts across keys: {100 * evidence['content']:.0f}% of their "
            "sketched prompts recur on 3 or more of them"
        )
    if evidence["exact_template"] >= 0.2:
        out.append(f"shared templates on {100 * evidence['exact_template']:.0f}% of prompts")
    if evidence["system_prompt"] >= 0.3:
        out.append(f"a shared system prompt on {100 * evidence['system_prompt']:.0f}% of requests")
    if evidence["addresses"] >= 0.2:
        prefixes = _top_names(w, members, "prefix", popular["prefix"])
        where = f" ({', '.join(prefixes)})" if prefixes else ""
        out.append(f"shared addresses or prefixes{where}")
    if evidence["created_burst"] >= 0.3:
        out.append(
            f"{100 * evidence['created_burst']:.0f}% of the keys were created in bursts "
            "(6+ within 15 minutes)"
        )
    if evidence["client"] >= 0.5:
        out.append("the same client fingerprint (User-Agent and request shape)")
    if evidence["synchronised"] >= 0.6:
        out.append("active in the same few days, in lockstep")
    if evidence["rotating_addresses"] >= 0.3:
        out.append(
            f"{100 * evidence['rotating_addresses']:.0f}% of the keys rotate through many "
            "addresses (a new one for most requests)"
        )
    if evidence["young_keys"] >= 0.3:
        out.append(
            f"{100 * evidence['young_keys']:.0f}% of the keys were put to work within two days "
            "of their creation"
        )
    return out


def _top_names(
    w: Window, members: npt.NDArray[np.int64], kind: str, popular: dict[int, int]
) -> list[str]:
    key, value, count = w.pairs[kind]
    mask = np.isin(key, members)
    tallies: dict[int, int] = {}
    for v, c in zip(value[mask], count[mask], strict=True):
        if int(v) in popular:
            tallies[int(v)] = tallies.get(int(v), 0) + int(c)
    best = sorted(tallies, key=lambda v: -tallies[v])[:3]
    return [w.names.get(v, f"#{v:x}") for v in best]
