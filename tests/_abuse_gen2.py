"""A second, differently built traffic generator, to test that the abuse detectors generalise
beyond `lab/abuse_traffic.py` (its vocabulary, timing and campaign styles are its own):

Honest: support-desk staff answering tickets (multi-turn), students of one class on a school
prefix doing the same assignment (keys made together, "show your work"), a RAG app (one
key, templated with retrieved passages, at volume), data teams running nightly extraction
jobs, and coding agents of a product the first generator does not know.

Held-out campaign styles: code harvesting with per-account random User-Agents and no
system prompt, persona role-play where every account has its own system prompt, a
question bank asked in two-turn conversations (fake history to dodge "single-turn"), and a
translation-and-explain sweep from one /24 per twenty accounts, keys made in bursts.
"""

from __future__ import annotations

import math
import random
from typing import Any

from tokenport.lab.abuse_traffic import Account, Planned

DAY = 86_400.0
START = 1_775_000_000.0  # 2026-03-31
DAYS = 10

LANGS = ["Dutch", "Polish", "Korean", "Turkish", "Swahili", "Hindi", "Greek", "Czech"]
CODE_TASKS = [
    "parses ISO-8601 durations",
    "merges overlapping intervals",
    "computes a Levenshtein distance",
    "implements an LRU cache",
    "validates an IBAN",
    "renders a binary tree as ASCII art",
    "finds strongly connected components",
    "streams a CSV into SQLite",
    "rate-limits calls",
    "solves sudoku with backtracking",
    "tokenizes arithmetic expressions",
    "diffs two JSON docs",
    "schedules cron expressions",
    "compresses with run-length encoding",
    "balances an AVL tree",
]
BANK = [
    "what causes the seasons on earth",
    "how do vaccines train the immune system",
    "why is the sky blue",
    "how does public key cryptography work",
    "what is a derivative",
    "how do transistors amplify signals",
    "why did the bronze age collapse",
    "what is opportunity cost",
    "how do neural networks learn",
    "what is entropy in physics",
    "how are mountains formed",
    "what is the central limit theorem",
    "how does inflation work",
    "what is a black hole",
    "how does photosynthesis store energy",
    "what is game theory",
]
PERSONAS = [
    "a patient physics professor",
    "a senior rust engineer",
    "a tax accountant",
    "a medieval historian",
    "an organic chemist",
    "a startup mentor",
    "a poet laureate",
]
TICKETS = [
    "my order has not arrived",
    "I was charged twice",
    "the app crashes on login",
    "how do I reset my password",
    "can I change my delivery address",
    "the discount code does not work",
    "I want to cancel my subscription",
]


class Gen2:
    def __init__(self, seed: int, honest: int = 1200, campaign: int = 300) -> None:
        self.r = random.Random(seed)
        self.accounts: list[Account] = []
        self.requests: list[Planned] = []
        self.honest, self.campaign = honest, campaign

    def _ip(self) -> str:
        r = self.r
        return f"{r.randrange(11, 200)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def _acc(self, kind: str, style: str, group: str, created: float, bad: bool) -> int:
        self.accounts.append(Account(kind, style, group, created, bad))
        return len(self.accounts) - 1

    def _day_times(self, n: int, start: float, tz: float) -> list[float]:
        r = self.r
        out = []
        for _ in range(n):
            day = r.randrange(max(1, int((START + DAYS * DAY - start) // DAY)))
            out.append(start + day * DAY + (r.uniform(8, 19) - tz) % 24 * 3600)
        return sorted(t for t in out if t < START + DAYS * DAY)

    def _add(
        self, acc: int, t: float, msgs: list[dict[str, Any]], ua: str, ip: str, **extra: Any
    ) -> None:
        self.requests.append(
            Planned(t, acc, {"model": "m/x", "messages": msgs, **extra}, ua, ip, None)
        )

    # honest --------------------------------------------------------------------------------

    def support(self) -> None:
        r = self.r
        acc = self._acc("support", "chat", "", START - r.uniform(10, 400) * DAY, False)
        ip, ua = self._ip(), "Zendesk-Integration/2.1"
        for t in self._day_times(r.randrange(5, 40), START, r.choice([0, 3, -6])):
            convo: list[dict[str, Any]] = [
                {"role": "system", "content": "You draft replies for our support team."}
            ]
            for turn in range(r.randrange(1, 4)):
                convo.append(
                    {
                        "role": "user",
                        "content": f"Customer says: {r.choice(TICKETS)}. "
                        f"Order {r.randrange(10**5)}. Draft a reply, turn {turn}.",
                    }
                )
                self._add(acc, t, list(convo), ua, ip, temperature=0.4)
                convo.append({"role": "assistant", "content": "Dear customer, ..."})
                t += r.uniform(30, 400)

    def classroom(self, n: int) -> None:
        r = self.r
        prefix = f"{r.randrange(11, 200)}.{r.randrange(256)}.{r.randrange(256)}"
        made = START - r.uniform(0, 20) * DAY
        for _ in range(n):
            acc = self._acc("student", "class", "school", made + r.uniform(0, 300), False)
            ip = f"{prefix}.{r.randrange(1, 255)}"
            for t in self._day_times(r.randrange(3, 12), max(made, START), 1):
                q = r.choice(BANK)
                self._add(
                    acc,
                    t,
                    [
                        {
                            "role": "user",
                            "content": f"Homework: {q}? Show your work step by step please",
                        }
                    ],
                    "Mozilla/5.0 Chromebook",
                    ip,
                )

    def rag(self) -> None:
        r = self.r
        acc = self._acc("rag", "app", "", START - 90 * DAY, False)
        ip = self._ip()
        t = START
        while t < START + DAYS * DAY:
            passage = " ".join(r.choice(BANK) for _ in range(6))
            self._add(
                acc,
                t,
                [
                    {"role": "system", "content": "Answer from the context only."},
                    {
                        "role": "user",
                        "content": f"Context: {passage}\n\nQuestion: {r.choice(BANK)}?",
                    },
                ],
                "llama-index/0.12",
                ip,
                max_tokens=700,
            )
            t += r.expovariate(1 / 200)

    def extraction(self) -> None:
        r = self.r
        acc = self._acc("etl", "batch", "", START - r.uniform(5, 200) * DAY, False)
        ip = self._ip()
        t = START + r.uniform(0, DAYS - 2) * DAY
        for _ in range(r.randrange(200, 900)):
            self._add(
                acc,
                t,
                [
                    {
                        "role": "user",
                        "content": "Return JSON with fields name, city, "
                        f"total for: customer {r.randrange(10**6)} from {r.choice(LANGS)} land "
                        f"spent {r.randrange(10**4)}",
                    }
                ],
                "httpx/0.27",
                ip,
                max_tokens=200,
                response_format={"type": "json_object"},
            )
            t += r.uniform(0.5, 1.5)

    def agent(self) -> None:
        r = self.r
        acc = self._acc("agent", "aider", "", START - r.uniform(1, 300) * DAY, False)
        ip = self._ip()
        for t in self._day_times(r.randrange(2, 6), START, 0):
            msgs: list[dict[str, Any]] = [
                {"role": "system", "content": "Act as an expert software developer. " * 30},
                {
                    "role": "user",
                    "content": f"Add a test for the function that {r.choice(CODE_TASKS)}",
                },
            ]
            for k in range(r.randrange(5, 30)):
                self._add(acc, t, list(msgs), "aider/0.86", ip, max_tokens=8192)
                msgs += [
                    {"role": "assistant", "content": "Edit applied.\n" * 20},
                    {"role": "user", "content": f"run output {k}: ok\n" * r.randrange(3, 40)},
                ]
                t += r.lognormvariate(math.log(20), 0.8)

    # campaigns -----------------------------------------------------------------------------

    def code_harvest(self, n: int) -> None:
        r = self.r
        for i in range(n):
            acc = self._acc("campaign", "code", "c1", START + r.uniform(-3, DAYS - 2) * DAY, True)
            ua = f"Mozilla/5.0 ({r.choice(['X11', 'Win64', 'Mac'])}) Gecko/{r.randrange(10**4)}"
            t = max(self.accounts[acc].created_at, START) + r.uniform(0, 5000)
            for _ in range(r.randrange(15, 50)):
                self._add(
                    acc,
                    t,
                    [
                        {
                            "role": "user",
                            "content": f"Write a function that {r.choice(CODE_TASKS)} in "
                            f"{r.choice(['Go', 'Rust', 'Python', 'C#'])}. "
                            "Explain your reasoning step by step, then give the code.",
                        }
                    ],
                    ua,
                    self._ip(),
                    max_tokens=12000,
                )
                t += r.uniform(200, 4000)
            del i

    def personas(self, n: int) -> None:
        r = self.r
        for _ in range(n):
            acc = self._acc(
                "campaign", "persona", "c2", START + r.uniform(-1, DAYS - 3) * DAY, True
            )
            system = f"You are {r.choice(PERSONAS)} named {r.randrange(10**6)}. Be exhaustive."
            ip, t = self._ip(), max(self.accounts[acc].created_at, START) + 600
            for _ in range(r.randrange(10, 40)):
                q = r.choice(BANK)
                self._add(
                    acc,
                    t,
                    [
                        {"role": "system", "content": system},
                        {"role": "user", "content": f"In full detail: {q}?"},
                    ],
                    "OpenAI/Python 1.99.1",
                    ip,
                    max_tokens=8000,
                    temperature=1.0,
                )
                t += r.uniform(600, 9000)

    def two_turn(self, n: int) -> None:
        r = self.r
        for _ in range(n):
            acc = self._acc(
                "campaign", "two_turn", "c3", START + r.uniform(-2, DAYS - 3) * DAY, True
            )
            t = max(self.accounts[acc].created_at, START) + 100
            for _ in range(r.randrange(10, 30)):
                q1, q2 = r.sample(BANK, 2)
                msgs = [
                    {"role": "user", "content": f"{q1}?"},
                    {"role": "assistant", "content": "Good question, here is an overview."},
                    {"role": "user", "content": f"Now {q2}? Give your complete chain of thought."},
                ]
                self._add(acc, t, msgs, "node-fetch/3.3", self._ip(), max_tokens=16384)
                t += r.uniform(1000, 20000)

    def translate_sweep(self, n: int) -> None:
        r = self.r
        burst = START - 2 * DAY
        prefix = ""
        for i in range(n):
            if i % 20 == 0:
                prefix = f"{r.randrange(11, 200)}.{r.randrange(256)}.{r.randrange(256)}"
                burst += r.uniform(0.2, 1.5) * DAY
            acc = self._acc("campaign", "translate", "c4", burst + r.uniform(0, 400), True)
            t = START + r.uniform(0, 2) * DAY
            for _ in range(r.randrange(20, 60)):
                self._add(
                    acc,
                    t,
                    [
                        {"role": "system", "content": "Translator."},
                        {
                            "role": "user",
                            "content": f"Translate into {r.choice(LANGS)} "
                            f"and explain every grammatical choice: {r.choice(BANK)}.",
                        },
                    ],
                    "python-httpx/0.25",
                    f"{prefix}.{r.randrange(1, 255)}",
                    max_tokens=6000,
                )
                t += r.uniform(30, 120)

    def build(self) -> tuple[list[Account], list[Planned]]:
        h = self.honest
        for _ in range(h // 3):
            self.support()
        for _ in range(h // 40):
            self.classroom(self.r.randrange(15, 35))
        for _ in range(3):
            self.rag()
        for _ in range(h // 60):
            self.extraction()
        for _ in range(h // 6):
            self.agent()
        c = self.campaign
        self.code_harvest(c // 4)
        self.personas(c // 4)
        self.two_turn(c // 4)
        self.translate_sweep(c - 3 * (c // 4))
        self.requests.sort(key=lambda p: p.ts)
        return self.accounts, self.requests
