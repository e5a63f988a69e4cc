"""Plan the abuse scenario's traffic: harvesting campaigns hidden in a crowd of honest users.

Honest users (`normal`), including the hard cases an extraction detector must leave alone:
- chat: people asking varied questions, sometimes over several turns, from a home address;
- agents: heavy coding-agent users: long contexts, many tool turns, pinned max_tokens, one
  system prompt and User-Agent per agent product shared by all its users, fast regular loops;
- batch: evaluation and batch jobs: one frame, thousands of items, single-turn, pinned
  max_tokens, machine-regular timing from cloud addresses, some asking "Let's think step by
  step", some sweeping many subjects;
- offices: teams behind one office prefix whose keys were created together.

Campaigns (`abusive`), each a network of accounts run by one operator, in styles:
- sweep: templated capability sweeps over subjects, from a few datacenter /24s (addresses
  rotated within them), keys created in bursts;
- paraphrase: the same harvesting intent, reworded per request; addresses rotated across
  thousands of residential prefixes; keys bought over time;
- cot: chain-of-thought coercion, prompts demanding the full reasoning;
- slow: slow-and-low, a few requests a day per account at human hours, one sticky
  residential address each, keys bought over time.
Every campaign mixes in a share of ordinary-looking chat (the hydra's cover traffic).

`plan()` is a pure function of the scenario and seed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from tokenport.errors import ConfigError
from tokenport.lab.abuse_words import words

DAY = 86_400.0


class Normal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chat: int = 3000
    agents: int = 500
    batch: int = 150
    offices: int = 40
    office_size: list[int] = msgspec.field(default_factory=lambda: [5, 30])


class Campaign(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    accounts: int = 1000
    operators: int = 6  # independent networks the accounts are split over
    styles: dict[str, float] = msgspec.field(
        default_factory=lambda: {"sweep": 0.3, "paraphrase": 0.25, "cot": 0.2, "slow": 0.25}
    )
    requests: list[int] = msgspec.field(default_factory=lambda: [20, 80])
    cover_share: float = 0.15  # of a campaign account's requests that look like a person's


class Meta(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    start: str
    days: int = 14
    seed: int = 17
    description: str = ""
    scale: float = 1.0  # multiplies every count (accounts and requests per account)


class AbuseScenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scenario: Meta
    normal: Normal = Normal()
    campaign: Campaign = Campaign()

    @property
    def start_ts(self) -> float:
        return float(calendar.timegm(dt.date.fromisoformat(self.scenario.start).timetuple()))


class Account(NamedTuple):
    kind: str  # chat | agent | batch | office | campaign
    style: str  # the campaign style, or the honest sub-kind
    group: str  # campaign operator, office, or "" for a lone user
    created_at: float
    abusive: bool


class Planned(NamedTuple):
    ts: float
    account: int
    body: dict[str, Any]
    ua: str
    ip: str
    app: str | None


def load(name_or_path: str) -> AbuseScenario:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        folder = resources.files("tokenport.lab").joinpath("scenarios")
        file = folder.joinpath(f"{name_or_path}.toml")
        if not file.is_file():
            raise ConfigError(f"No abuse scenario {name_or_path!r}.")
        text = file.read_text(encoding="utf-8")
    try:
        return msgspec.convert(tomllib.loads(text), AbuseScenario)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"Abuse scenario {name_or_path}: {exc}") from None


class _Plan:
    def __init__(self, s: AbuseScenario, seed: int | None) -> None:
        self.s = s
        self.w = words()
        self.rng = random.Random(s.scenario.seed if seed is None else seed)
        self.start = s.start_ts
        self.end = self.start + s.scenario.days * DAY
        self.accounts: list[Account] = []
        self.requests: list[Planned] = []
        r = self.rng
        self.cloud = [
            f"{r.choice([3, 18, 34, 35, 52, 54])}.{r.randrange(256)}.{r.randrange(256)}"
            for _ in range(120)
        ]
        self.residential = [
            f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}" for _ in range(6000)
        ]

    # -- helpers -------------------------------------------------------------------------

    def scaled(self, n: int) -> int:
        return max(1, round(n * self.s.scenario.scale)) if n else 0

    def add(self, account: Account) -> int:
        self.accounts.append(account)
        return len(self.accounts) - 1

    def home_ip(self) -> str:
        return f"{self.rng.choice(self.residential)}.{self.rng.randrange(2, 254)}"

    def human_times(self, count: int, tz: float, first: float) -> list[float]:
        """`count` request times at waking hours (tz: the user's offset in hours), in
        sessions, from `first` to the end of the window."""
        r = self.rng
        out: list[float] = []
        while len(out) < count:
            day = math.floor((first - self.start) / DAY + r.random() * (self.end - first) / DAY)
            hour = min(23.5, max(7.0, r.gauss(14, 3.5))) - tz
            t = self.start + day * DAY + hour * 3600 + r.random() * 1800
            for _ in range(min(count - len(out), r.choice([1, 1, 2, 3, 5, 8]))):
                if first <= t < self.end:
                    out.append(t)
                t += r.lognormvariate(math.log(90), 1.1)
        return sorted(out)

    def created(self, young_share: float = 0.15) -> float:
        r = self.rng
        if r.random() < young_share:
            return self.start + r.random() * (self.end - self.start) * 0.8
        return self.start - r.random() * 180 * DAY

    # -- prompts -------------------------------------------------------------------------

    def chat_prompt(self, interests: list[str]) -> str:
        r = self.rng
        subject = r.choice(interests)
        topic, topic2 = r.sample(self.w.subjects[subject], 2)
        text = r.choice(self.w.chat_asks).format(
            verb=r.choice(self.w.verbs),
            thing=r.choice(self.w.things),
            failing=r.choice(self.w.failing),
            occasion=r.choice(self.w.occasions),
            topic=topic,
            topic2=topic2,
            claim=r.choice(self.w.claims),
            form=r.choice(self.w.forms),
            language=r.choice(self.w.languages),
            sentence=r.choice(self.w.sentences),
        )
        if r.random() < 0.3:
            text += " " + r.choice(self.w.sentences) + "."
        if r.random() < 0.03:
            text += " Think step by step."
        return text

    def chat_body(
        self,
        interests: list[str],
        model: str,
        history: list[dict[str, Any]],
        max_tokens: int | None,
    ) -> dict[str, Any]:
        history.append({"role": "user", "content": self.chat_prompt(interests)})
        body: dict[str, Any] = {"model": model, "messages": list(history)}
        if max_tokens:
            body["max_tokens"] = max_tokens
        history.append({"role": "assistant", "content": "Sure, here is what I think. " * 5})
        return body

    # -- honest users --------------------------------------------------------------------

    def chat_user(
        self,
        kind: str = "chat",
        group: str = "",
        ip: str | None = None,
        created: float | None = None,
    ) -> None:
        r = self.rng
        acc = self.add(Account(kind, "chat", group, created or self.created(), False))
        interests = r.sample(list(self.w.subjects), r.choice([1, 2, 3]))
        tz = r.choice([-8, -5, 0, 1, 2, 5.5, 8, 9])
        ua = r.choice(self.w.chat_uas)
        app = r.choice(self.w.chat_apps)
        home = ip or self.home_ip()
        others = [self.home_ip() for _ in range(r.choice([0, 0, 1, 2]))]
        max_tokens = r.choice([None, None, None, 1024, 2048, 4096])
        model = r.choice(["sim/frontier", "sim/mid", "sim/small"])
        count = max(1, int(r.lognormvariate(math.log(12), 1.0) * self.s.scenario.scale))
        first = max(self.accounts[acc].created_at, self.start)
        history: list[dict[str, Any]] = []
        last = 0.0
        for t in self.human_times(count, tz, first):
            if t - last > 1800 or len(history) > 12:
                history = []
            last = t
            addr = home if not others or r.random() < 0.7 else r.choice(others)
            self.requests.append(
                Planned(
                    t, acc, self.chat_body(interests, model, history, max_tokens), ua, addr, app
                )
            )

    def agent_user(self) -> None:
        r = self.rng
        product = r.randrange(len(self.w.agent_systems))
        acc = self.add(Account("agent", self.w.agent_apps[product], "", self.created(), False))
        home = self.home_ip()
        tz = r.choice([-8, -5, 0, 1, 2, 5.5, 8])
        sessions = max(1, int(r.lognormvariate(math.log(4), 0.7) * self.s.scenario.scale))
        first = max(self.accounts[acc].created_at, self.start)
        names = ["read_file", "edit_file", "bash", "grep", "list_dir", "web_fetch"]
        tools = [
            {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in ("read_file", "edit_file", "bash", "grep", "list_dir", "web_fetch")
        ]
        for t in self.human_times(sessions, tz, first):
            task = r.choice(self.w.agent_tasks).format(
                file=r.choice(self.w.files),
                thing=r.choice(self.w.code_things),
                thing2=r.choice(self.w.code_things),
                log="error: exit status 1 " * r.randrange(2, 20),
            )
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": self.w.agent_systems[product] * 3},
                {"role": "user", "content": task},
            ]
            for step in range(r.randrange(8, 60)):
                body = {
                    "model": "sim/frontier",
                    "messages": list(messages),
                    "tools": tools,
                    "max_tokens": self.w.agent_max[product],
                    "stream": True,
                }
                self.requests.append(
                    Planned(
                        t, acc, body, self.w.agent_uas[product], home, self.w.agent_apps[product]
                    )
                )
                call = {
                    "id": f"c{step}",
                    "type": "function",
                    "function": {
                        "name": r.choice(names),
                        "arguments": '{"path": "src/x.py"}',
                    },
                }
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": f"c{step}",
                        "content": "def handler(request):\n    return ok\n" * r.randrange(5, 60),
                    }
                )
                t += r.lognormvariate(math.log(7), 0.5)

    def batch_job(self) -> None:
        r = self.rng
        frame = r.choice(self.w.batch_frames)
        acc = self.add(
            Account("batch", "eval" if "{q}" in frame else "batch", "", self.created(0.4), False)
        )
        ip = f"{r.choice(self.cloud)}.{r.randrange(2, 254)}"
        ua = r.choice(["python-requests/2.32.3", "OpenAI/Python 1.109.1", "httpx/0.28.1"])
        max_tokens = r.choice(self.w.batch_max) if "step by step" not in frame else 1024
        subjects = list(self.w.subjects) if r.random() < 0.5 else [r.choice(list(self.w.subjects))]
        count = int(r.randrange(150, 1200) * self.s.scenario.scale) + 1
        t = max(self.accounts[acc].created_at, self.start) + r.random() * 3 * DAY
        gap = r.uniform(0.3, 3.0)
        for i in range(count):
            subject = r.choice(subjects)
            topic = r.choice(self.w.subjects[subject])
            item = r.choice(self.w.batch_items).format(n=r.randrange(1, 999), d=r.randrange(10, 28))
            prompt = frame.format(
                item=item,
                topic=topic,
                q=f"Which statement about {topic} is correct ({i})?",
                a="alpha",
                b="beta",
                c="gamma",
                d="delta",
            )
            body = {
                "model": "sim/mid",
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
            if t < self.end:
                self.requests.append(Planned(t, acc, body, ua, ip, "batch"))
            t += gap * r.lognormvariate(0, 0.25)

    def office(self, index: int) -> None:
        r = self.rng
        prefix = r.choice(self.residential)
        nat = [f"{prefix}.{r.randrange(2, 254)}" for _ in range(r.choice([1, 1, 2, 3]))]
        onboarding = self.created(0.3)
        for _ in range(r.randrange(self.s.normal.office_size[0], self.s.normal.office_size[1] + 1)):
            created = onboarding + r.random() * 600
            if r.random() < 0.3:
                self.agent_user()
                continue
            self.chat_user("office", f"office-{index}", r.choice(nat), created)

    # -- campaigns -----------------------------------------------------------------------

    def campaign(self, operator: int, style: str, count: int) -> None:
        r = self.rng
        c = self.s.campaign
        group = f"op{operator}-{style}"
        frames = r.sample(self.w.sweep_frames, r.choice([1, 2, 3]))
        system = r.choice(self.w.campaign_systems) if r.random() < 0.6 else None
        ua = r.choice(self.w.campaign_uas)
        max_tokens = r.choice([4096, 8192, 16000, None])
        pool = [f"{r.choice(self.cloud)}" for _ in range(r.randrange(3, 10))]
        subjects = list(self.w.subjects)
        burst_at = self.start - r.random() * 5 * DAY
        for i in range(count):
            if style == "sweep":
                created = burst_at + (i // 50) * r.uniform(0.5, 2) * DAY + r.random() * 300
            else:
                created = self.start - 2 * DAY + r.random() * (self.end - self.start) * 0.85
            acc = self.add(Account("campaign", style, group, created, True))
            n = max(2, int(r.randrange(c.requests[0], c.requests[1] + 1) * self.s.scenario.scale))
            first = max(created + r.random() * DAY, self.start)
            sticky = self.home_ip()
            if style == "slow":
                times = self.human_times(n, r.choice([-5, 0, 8]), first)
            else:
                span = r.uniform(0.3, 4) * DAY
                gap = span / n
                times = [first + k * gap * r.lognormvariate(0, 0.3) for k in range(n)]
            interests = r.sample(list(self.w.subjects), 2)
            for t in times:
                if t >= self.end:
                    continue
                if r.random() < c.cover_share:
                    body = self.chat_body(interests, "sim/frontier", [], None)
                else:
                    body = self.harvest_body(style, frames, subjects, system, max_tokens)
                if style == "sweep":
                    ip = f"{r.choice(pool)}.{r.randrange(2, 254)}"
                elif style == "slow":
                    ip = sticky
                else:
                    ip = self.home_ip()
                self.requests.append(Planned(t, acc, body, ua, ip, None))

    def harvest_body(
        self,
        style: str,
        frames: list[str],
        subjects: list[str],
        system: str | None,
        max_tokens: int | None,
    ) -> dict[str, Any]:
        r = self.rng
        subject = r.choice(subjects)
        topic = r.choice(self.w.subjects[subject])
        if style == "paraphrase" or (style == "slow" and r.random() < 0.5):
            prompt = " ".join(
                p
                for p in (
                    r.choice(self.w.paraphrase_openers),
                    r.choice(self.w.paraphrase_verbs),
                    topic,
                    r.choice(self.w.paraphrase_tails),
                    r.choice(self.w.paraphrase_extras),
                )
                if p
            ) + r.choice(["?", ".", "", " please."])
        else:
            prompt = r.choice(frames).format(subject=subject, topic=topic, n=r.randrange(1, 500))
        if style == "cot" or r.random() < 0.3:
            prompt += " " + r.choice(self.w.cot_suffixes)
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {"model": "sim/frontier", "messages": messages}
        if max_tokens:
            body["max_tokens"] = max_tokens
        return body


def plan(s: AbuseScenario, seed: int | None = None) -> tuple[list[Account], list[Planned]]:
    """Accounts (index = the simulator's key number) and their requests, in time order."""
    p = _Plan(s, seed)
    for _ in range(p.scaled(s.normal.chat)):
        p.chat_user()
    for _ in range(p.scaled(s.normal.agents)):
        p.agent_user()
    for _ in range(p.scaled(s.normal.batch)):
        p.batch_job()
    for i in range(p.scaled(s.normal.offices)):
        p.office(i)
    c = s.campaign
    total = p.scaled(c.accounts)
    shares = sorted(c.styles.items())
    weight = sum(v for _, v in shares) or 1.0
    for style, share in shares:
        n = round(total * share / weight)
        ops = max(1, round(c.operators * share / weight))
        for op in range(ops):
            p.campaign(op, style, n // ops + (1 if op < n % ops else 0))
    p.requests.sort(key=lambda q: q.ts)
    return p.accounts, p.requests
