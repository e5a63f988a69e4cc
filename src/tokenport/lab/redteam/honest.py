"""Honest users, with the hard negatives that look most like harvesting.

Each generator returns the accounts of one unit (a class, a hackathon, an eval team, a
coding tool's users, a SaaS app, a group of translators and writers, or chat users).
What they share is what real ones share: one assignment, one network, keys made together;
one tool prompt; one system prompt; many near-identical requests.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tokenport.lab.redteam import clients, words
from tokenport.lab.redteam.model import Account, Message, Request, Window
from tokenport.lab.redteam.paraphrase import Item, curriculum, paraphrase

Population = Callable[[random.Random, Window, int, str], list[Account]]

AGENT_SYSTEM = (
    "You are an interactive CLI coding agent. You help users with software engineering "
    "tasks. Use the tools available to read files, run commands and edit code. Keep answers "
    "concise; never guess file contents, read them. Follow the repository's conventions. "
)


def _acct(name: str, group: str, unit: str, at: float, ip: str) -> Account:
    return Account(name, "honest", group, unit, at, ip)


def chat(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """Everyday users: a few short conversations on some days."""
    out = []
    for i in range(n):
        ip, ua = clients.residential_ip(rng), rng.choice(clients.BROWSER_UAS + clients.SDK_UAS)
        a = _acct(f"{unit}-{i}", "chat", unit, w.start - rng.uniform(0, 90) * 86400, ip)
        for day in range(w.days):
            if rng.random() < 0.5:
                continue
            history: tuple[Message, ...] = ()
            start = clients.day_time(rng, w, day)
            for ts in clients.session_times(rng, start, rng.randint(1, 6)):
                text = rng.choice(words.FOLLOW_UPS if history else words.CHAT_ASKS)
                req = Request(ts, (*history[-6:], Message("user", text)), ip, ua)
                a.requests.append(req)
                history = (*req.messages, Message("assistant", "(answer)"))
        out.append(a)
    return out


def classroom(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """One class: keys made together from the school's address, one "show your work"
    assignment over one subject, worked in class hours from that same address."""
    school = clients.residential_ip(rng)
    subject = rng.choice(list(words.SUBJECTS))
    assignment = [it for it in curriculum() if it.subject == subject and it.task != "compare"][:8]
    made = w.start + rng.randrange(max(1, w.days - 2)) * 86400 + 9 * 3600
    ua = clients.BROWSER_UAS[0]  # the school's managed laptops
    out = []
    for i in range(n):
        a = _acct(f"{unit}-{i}", "classroom", unit, made + rng.uniform(0, 600), school)
        for day in (0, 1):
            start = made + day * 86400 + rng.uniform(600, 1800)
            todo = assignment[day * 4 : day * 4 + 4]
            for ts, item in zip(
                clients.session_times(rng, start, len(todo) * 2), todo * 2, strict=False
            ):
                text = paraphrase(item, rng, 0.6) + " This is for my homework, show your work."
                a.requests.append(Request(ts, (Message("user", text),), school, ua))
        out.append(a)
    return out


def hackathon(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """A weekend event: keys handed out together at the venue, two days of heavy use by teams
    of four that share a system prompt, all behind the venue's address."""
    venue = clients.residential_ip(rng)
    start = w.start + rng.randrange(max(1, w.days - 2)) * 86400 + 9 * 3600
    out = []
    for i in range(n):
        team_prompt = (
            f"You are the assistant inside team {i // 4}'s app, {rng.choice(words.PRODUCTS)}."
        )
        ua = rng.choice(clients.SDK_UAS)
        a = _acct(f"{unit}-{i}", "hackathon", unit, start - 1800 + rng.uniform(0, 300), venue)
        for day in (0, 1):
            t0 = start + day * 86400 + rng.uniform(0, 7200)
            for ts in clients.session_times(rng, t0, rng.randint(10, 25), (60, 900)):
                ask = rng.choice(words.CODE_TASKS + words.CHAT_ASKS + words.SAAS_INPUTS)
                msgs = (Message("system", team_prompt), Message("user", ask))
                a.requests.append(Request(ts, msgs, venue, ua, max_tokens=rng.choice((None, 1024))))
        out.append(a)
    return out


def eval_harness(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """Benchmark runs: every question of a set, templated, chain-of-thought prompted,
    temperature 0, fixed max_tokens, machine-regular pace, from one cloud address."""
    host = clients.residential_ip(rng)
    bench: list[Item] = curriculum()
    out = []
    for i in range(n):
        a = _acct(f"{unit}-{i}", "eval_harness", unit, w.start - rng.uniform(5, 60) * 86400, host)
        for run in range(rng.randint(1, 3)):
            t = w.start + rng.uniform(0, w.days - 1) * 86400
            for item in rng.sample(bench, rng.randint(40, 80)):
                q = (
                    f"Question: {item.task} {item.concept} ({item.subject}).\n"
                    "Let's think step by step, then write 'Answer:' and the answer."
                )
                a.requests.append(
                    Request(t, (Message("user", q),), host, "python-requests/2.32.3", 2048, 0.0)
                )
                t += 2.0 + rng.uniform(0, 0.4)
            del run
        out.append(a)
    return out


def coding_agent(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """Users of one coding agent: the same long tool prompt and tools, tool results coming
    back, long sessions of quick turns."""
    out = []
    for i in range(n):
        ip = clients.residential_ip(rng)
        a = _acct(f"{unit}-{i}", "coding_agent", unit, w.start - rng.uniform(0, 60) * 86400, ip)
        for day in range(w.days):
            if rng.random() < 0.3:
                continue
            task = rng.choice(words.CODE_TASKS)
            msgs: tuple[Message, ...] = (Message("system", AGENT_SYSTEM), Message("user", task))
            for k, ts in enumerate(
                clients.session_times(
                    rng, clients.day_time(rng, w, day), rng.randint(8, 25), (2, 25)
                )
            ):
                sent = msgs[:2] + msgs[2:][-6:]
                a.requests.append(Request(ts, sent, ip, clients.AGENT_UA, 32000, tools=True))
                msgs = (
                    *msgs,
                    Message("assistant", f"(calling a tool, step {k})", f"call_{k}"),
                    Message(
                        "tool", f"exit 0\nfile {k}.py: {rng.randrange(10**6)} bytes", f"call_{k}"
                    ),
                )
        out.append(a)
    return out


def saas_app(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """One SaaS product: keys per tenant or environment, one system prompt, one server
    address, customers' questions round the clock."""
    server = clients.residential_ip(rng)
    product = rng.choice(words.PRODUCTS)
    system = f"You are the support assistant of {product}. Answer politely in two paragraphs."
    ua = rng.choice(clients.SDK_UAS)
    made = w.start - rng.uniform(10, 90) * 86400
    out = []
    for i in range(n):
        a = _acct(f"{unit}-{i}", "saas_app", unit, made + i * 60.0, server)
        for day in range(w.days):
            for _ in range(rng.randint(5, 20)):
                ts = w.start + day * 86400 + rng.uniform(0, 86400)
                ask = f"{rng.choice(words.SAAS_INPUTS)} (ticket {rng.randrange(10**5)})"
                msgs = (Message("system", system), Message("user", ask))
                a.requests.append(Request(ts, msgs, server, ua, 600, app="helpdesk"))
        out.append(a)
    return out


def translator_writer(rng: random.Random, w: Window, n: int, unit: str) -> list[Account]:
    """Professionals who send many near-identical requests: translate this, write that."""
    out = []
    for i in range(n):
        ip, ua = clients.residential_ip(rng), rng.choice(clients.SDK_UAS)
        a = _acct(
            f"{unit}-{i}", "translator_writer", unit, w.start - rng.uniform(0, 60) * 86400, ip
        )
        lang = rng.choice(words.LANGUAGES)
        for day in range(w.days):
            if day % 7 in (5, 6) and rng.random() < 0.8:
                continue
            start = clients.day_time(rng, w, day)
            for ts in clients.session_times(rng, start, rng.randint(5, 15), (40, 300)):
                kind, product = rng.choice(words.DOC_KINDS), rng.choice(words.PRODUCTS)
                if i % 2 == 0:
                    order = rng.randrange(10**4)
                    text = (
                        f"Translate the following {kind} into {lang}, keep the tone: "
                        f"{product} is our best seller, order #{order}."
                    )
                else:
                    text = f"Write a {rng.choice((200, 300, 500))}-word {kind} for {product}."
                a.requests.append(
                    Request(ts, (Message("user", text),), ip, ua, rng.choice((None, 2000, 4000)))
                )
        out.append(a)
    return out


POPULATIONS: dict[str, Population] = {
    "chat": chat,
    "classroom": classroom,
    "hackathon": hackathon,
    "eval_harness": eval_harness,
    "coding_agent": coding_agent,
    "saas_app": saas_app,
    "translator_writer": translator_writer,
}
