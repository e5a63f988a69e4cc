"""Who a request seems to come from (address, User-Agent) and when people send them."""

from __future__ import annotations

import random

from tokenport.lab.redteam.model import Window

# User-Agents of common clients, as their libraries send them.
SDK_UAS = (
    "OpenAI/Python 1.54.4",
    "OpenAI/Python 1.59.7",
    "OpenAI/Python 1.61.0",
    "OpenAI/JS 4.77.0",
    "OpenAI/JS 4.85.1",
    "AsyncOpenAI/Python 1.59.7",
    "python-requests/2.32.3",
    "axios/1.7.9",
    "curl/8.5.0",
    "LangChain/0.3.14",
)
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
AGENT_UA = "claude-cli/1.0.61 (external, cli)"


def residential_ip(rng: random.Random) -> str:
    """An address anywhere in ordinary consumer space (a different /24 almost always)."""
    first = rng.choice((24, 31, 37, 46, 62, 73, 77, 81, 86, 90, 98, 109, 151, 176, 185, 212))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def subnet_ip(prefix: str, rng: random.Random) -> str:
    """An address inside a /24 given as 'a.b.c'."""
    return f"{prefix}.{rng.randrange(1, 255)}"


def random_prefix(rng: random.Random) -> str:
    ip = residential_ip(rng)
    return ip.rsplit(".", 1)[0]


def day_time(rng: random.Random, window: Window, day: int, tz_offset_h: float = 0.0) -> float:
    """A moment of a waking, working day (local 08:00-23:00, peaking mid-afternoon)."""
    hour = min(23.0, max(8.0, rng.gauss(15.0, 3.5)))
    local = hour * 3600 + rng.uniform(0, 3600)
    return window.start + day * 86400 + (local - tz_offset_h * 3600) % 86400


def session_times(
    rng: random.Random, start: float, n: int, gap_s: tuple[float, float] = (20, 240)
) -> list[float]:
    """n request times in one sitting: irregular human gaps from `start`."""
    out, t = [], start
    for _ in range(n):
        out.append(t)
        t += rng.uniform(*gap_s) * rng.choice((0.5, 1.0, 1.0, 2.0))
    return out
