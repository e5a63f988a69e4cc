"""Evasive harvesting campaigns, one generator per style, each with `effort` in 0..1.

Every generator returns the accounts of one campaign (one operator). At effort 0 a
campaign is as careless as the project's own simulator made it; at effort 1 it hides what
it can: wording, request shape, rates, addresses, clients and key purchases all look like
ordinary users'. What no campaign can hide is its purpose: many chain-of-thought answers
over a topic space, from keys one operator controls.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tokenport.lab.redteam import clients, words
from tokenport.lab.redteam.model import Account, Message, Request, Window
from tokenport.lab.redteam.paraphrase import Item, curriculum, paraphrase

Generator = Callable[[random.Random, Window, int, float, str], list[Account]]
_HONEST_MAX_TOKENS = (None, None, None, 1024, 2048, 4096, 800)


def harvest(
    rng: random.Random,
    item: Item,
    effort: float,
    ts: float,
    ip: str,
    ua: str,
    history: tuple[Message, ...] = (),
) -> Request:
    """One harvesting request: a paraphrased, reasoning-coercing question about `item`."""
    pinned = rng.random() >= effort  # careless campaigns pin the longest answer
    return Request(
        ts=ts,
        messages=(*history, Message("user", paraphrase(item, rng, effort))),
        ip=ip,
        user_agent=ua,
        max_tokens=8192 if pinned else rng.choice(_HONEST_MAX_TOKENS),
        reasoning=rng.random() < 1 - 0.7 * effort,
    )


def _origin(
    rng: random.Random, window: Window, effort: float, base_ip: str, i: int
) -> tuple[float, str]:
    """When and from where key `i` was bought: in one burst from one address at effort 0;
    over weeks, from anywhere, as effort grows."""
    if rng.random() >= effort:
        return window.start - 3600 + i * 5.0, base_ip
    return window.start - rng.uniform(0, 30) * 86400 * effort, clients.residential_ip(rng)


def _client(rng: random.Random, effort: float, shared_ua: str, shared_ip: str) -> tuple[str, str]:
    """One account's own User-Agent and address (shared by the campaign at low effort)."""
    ua = shared_ua if rng.random() >= effort else rng.choice(clients.SDK_UAS + clients.BROWSER_UAS)
    ip = (
        clients.subnet_ip(shared_ip.rsplit(".", 1)[0], rng)
        if rng.random() >= effort
        else (clients.residential_ip(rng))
    )
    return ua, ip


def _accounts(
    rng: random.Random, window: Window, n: int, effort: float, unit: str, style: str
) -> list[Account]:
    base_ip = clients.subnet_ip(clients.random_prefix(rng), rng)
    out = []
    for i in range(n):
        at, ip = _origin(rng, window, effort, base_ip, i)
        out.append(Account(f"{unit}-{i}", "abuse", style, unit, at, ip))
    return out


def _sessions(
    rng: random.Random,
    window: Window,
    acct: Account,
    items: list[Item],
    effort: float,
    per_day: tuple[int, int],
    ua: str,
    ip: str,
    days: range | None = None,
) -> None:
    """Spend `items` over the window in human sittings of a few prompts each."""
    queue = list(items)
    for day in days or range(window.days):
        if not queue:
            return
        n = min(len(queue), rng.randint(*per_day))
        start = clients.day_time(rng, window, day)
        for ts in clients.session_times(rng, start, n):
            acct.requests.append(harvest(rng, queue.pop(), effort, ts, ip, ua))


def paraphrase_cot(
    rng: random.Random, w: Window, n: int, effort: float, unit: str
) -> list[Account]:
    """Each account asks for reasoning over its slice of the curriculum, worded afresh."""
    accts = _accounts(rng, w, n, effort, unit, "paraphrase_cot")
    items = curriculum()
    rng.shuffle(items)
    shared_ua, shared_ip = rng.choice(clients.SDK_UAS), clients.residential_ip(rng)
    for i, a in enumerate(accts):
        ua, ip = _client(rng, effort, shared_ua, shared_ip)
        mine = (items[i::n] * 3)[: rng.randint(40, 80)]
        _sessions(rng, w, a, mine, effort, (6, 16), ua, ip)
    return accts


def slow_and_low(rng: random.Random, w: Window, n: int, effort: float, unit: str) -> list[Account]:
    """Many keys, each at a few requests a day (an ordinary person's rate), every day."""
    accts = _accounts(rng, w, n, effort, unit, "slow_and_low")
    items = curriculum()
    shared_ua, shared_ip = rng.choice(clients.SDK_UAS), clients.residential_ip(rng)
    for a in accts:
        ua, ip = _client(rng, effort, shared_ua, shared_ip)
        mine = rng.sample(items, min(len(items), w.days * 4))
        hi = max(2, round(8 - 5 * effort))
        _sessions(rng, w, a, mine, effort, (1, hi), ua, ip)
    return accts


def blend(rng: random.Random, w: Window, n: int, effort: float, unit: str) -> list[Account]:
    """Honest-looking chat sessions, each with a few harvesting prompts among the turns."""
    accts = _accounts(rng, w, n, effort, unit, "blend")
    items = curriculum()
    shared_ua, shared_ip = rng.choice(clients.BROWSER_UAS), clients.residential_ip(rng)
    share = 0.5 - 0.35 * effort  # of each session's turns that harvest
    for a in accts:
        ua, ip = _client(rng, effort, shared_ua, shared_ip)
        for day in range(w.days):
            if rng.random() < 0.2:
                continue
            turns = rng.randint(5, 12)
            history: tuple[Message, ...] = ()
            for ts in clients.session_times(rng, clients.day_time(rng, w, day), turns):
                if rng.random() < share:
                    req = harvest(rng, rng.choice(items), effort, ts, ip, ua, history[-4:])
                else:
                    text = rng.choice(words.CHAT_ASKS if not history else words.FOLLOW_UPS)
                    req = Request(ts, (*history[-4:], Message("user", text)), ip, ua)
                a.requests.append(req)
                history = (*req.messages, Message("assistant", "(answer)"))
    return accts


def specialist_sweep(
    rng: random.Random, w: Window, n: int, effort: float, unit: str
) -> list[Account]:
    """Accounts that each dwell on one subject, like a specialist; together they cover all."""
    accts = _accounts(rng, w, n, effort, unit, "specialist_sweep")
    subjects = list(words.SUBJECTS)
    shared_ua, shared_ip = rng.choice(clients.SDK_UAS), clients.residential_ip(rng)
    for i, a in enumerate(accts):
        subject = subjects[i % len(subjects)]
        mine = [it for it in curriculum() if it.subject == subject]
        rng.shuffle(mine)
        ua, ip = _client(rng, effort, shared_ua, shared_ip)
        _sessions(rng, w, a, mine * 2, effort, (4, 10), ua, ip)
    return accts


def rotating(rng: random.Random, w: Window, n: int, effort: float, unit: str) -> list[Account]:
    """Each sitting from another address and client: a few datacenter /24s and one SDK at
    effort 0; residential addresses and real browser and SDK strings at effort 1."""
    accts = _accounts(rng, w, n, effort, unit, "rotating")
    pools = [clients.random_prefix(rng) for _ in range(3)]
    items = curriculum()
    for a in accts:
        for day in range(w.days):
            for _ in range(rng.randint(1, 3)):
                if rng.random() < effort:
                    ip, ua = (
                        clients.residential_ip(rng),
                        rng.choice(clients.SDK_UAS + clients.BROWSER_UAS),
                    )
                else:
                    ip, ua = (
                        clients.subnet_ip(rng.choice(pools), rng),
                        rng.choice(clients.SDK_UAS[:2]),
                    )
                start = clients.day_time(rng, w, day)
                for ts in clients.session_times(rng, start, rng.randint(3, 8)):
                    a.requests.append(harvest(rng, rng.choice(items), effort, ts, ip, ua))
    return accts


def aged_keys(rng: random.Random, w: Window, n: int, effort: float, unit: str) -> list[Account]:
    """Keys bought long before use (days to weeks, by effort); careful ones first chat like
    a person for a while, then harvest."""
    accts = _accounts(rng, w, n, effort, unit, "aged_keys")
    items = curriculum()
    shared_ua, shared_ip = rng.choice(clients.SDK_UAS), clients.residential_ip(rng)
    warm_days = round(w.days * 0.4 * effort)
    for a in accts:
        a.created_at = min(a.created_at, w.start) - (3 + 50 * effort * rng.random()) * 86400
        ua, ip = _client(rng, effort, shared_ua, shared_ip)
        for day in range(warm_days):
            start = clients.day_time(rng, w, day)
            for ts in clients.session_times(rng, start, rng.randint(1, 4)):
                a.requests.append(
                    Request(ts, (Message("user", rng.choice(words.CHAT_ASKS)),), ip, ua)
                )
        mine = rng.sample(items, 60)
        _sessions(rng, w, a, mine, effort, (5, 14), ua, ip, range(warm_days, w.days))
    return accts


STYLES: dict[str, Generator] = {
    "paraphrase_cot": paraphrase_cot,
    "slow_and_low": slow_and_low,
    "blend": blend,
    "specialist_sweep": specialist_sweep,
    "rotating": rotating,
    "aged_keys": aged_keys,
}
