"""What guardrails add to admission for a 4 KB prompt, every check on (issue 23's target:
under 0.1 ms p50).

    python bench/guardrail_cost.py [--requests 2000]

One workspace policy with every check: model allow and deny lists, provider allow and deny
lists, a max_tokens cap, a price cap, DLP in redact mode with the three built-in detectors
and two custom regexes, and the built-in prompt-injection patterns plus one of its own. The
prompt is 4 KB of prose holding one e-mail address and one card number, so the redaction
path runs too. Prints p50 and p99 of `enforce` per request, and the same with no policy.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from tokenport.security.guardrails import Compiled, GuardrailPolicy, enforce
from tokenport.values import ChatRequest, Message, Pricing, Route

POLICY = GuardrailPolicy(
    allow_models=["fakeoa/*", "deepseek/*", "moonshotai/*"],
    deny_models=["*/forbidden*"],
    allow_providers=["fakeoa", "deepseek"],
    deny_providers=["shady"],
    max_tokens=4096,
    max_price_per_mtok=20.0,
    dlp="redact",
    dlp_patterns=[r"PRJ-\d{4}", r"confidential-[a-z]+"],
    injection=True,
    injection_patterns=[r"sudo mode"],
)
WORDS = "the quick brown fox jumps over the lazy dog while the gateway meters every token "


def prompt() -> str:
    text = (WORDS * 60)[:4060]
    return text[:1000] + " mail ann@acme.example " + text[1000:] + " 4111 1111 1111 1111 "


def timings(policies: list[Compiled], n: int) -> list[float]:
    base = ChatRequest(
        model="fakeoa/fake-model",
        messages=[Message("system", "You are helpful."), Message("user", prompt())],
        max_tokens=256,
    )
    requests = [copy.deepcopy(base) for _ in range(n)]  # redaction edits each one
    routes = [Route("fakeoa", "m", "fakeoa/fake-model", Pricing(1.0, 2.0))]
    out = []
    for request in requests:
        t0 = time.perf_counter()
        enforce(policies, request, list(routes))
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    n = ap.parse_args().requests
    size = len(prompt().encode())
    for name, policies in (("no policy", []), ("every check", [Compiled("ws", POLICY)])):
        t = sorted(timings(policies, n))
        print(
            f"{name}: p50 {statistics.median(t):.4f} ms, p99 {t[int(0.99 * len(t))]:.4f} ms "
            f"({size} byte prompt, {n} requests)"
        )


if __name__ == "__main__":
    main()
