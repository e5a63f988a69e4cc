"""What recording a refused request costs, in-process (microseconds per refusal).

    python bench/refusal_cost.py [--n 20000]

Times exactly the edge's hook (`RefusalLog.note`, api/refusals.py) over a real `Ledger`
(SQLite in a scratch directory, its journal fsynced as in production), as CPU time of the
calling thread (a shared machine's wall time says more about its neighbours), in three
cases:

- `single`: under `refusal_records_per_s`, each refusal becomes its own record (ULID,
  client prefix, msgpack, journal buffer);
- `folded`: past the rate, a flood: each refusal is counted in an aggregate;
- `single_plus_writer_cpu`: the process CPU per refusal of a second `single` run, every
  thread included: the hook plus the background work it causes (the journal's group
  writes, the database batches with their rollups), until the ledger has drained.

The hook's figures are per call on the request path; the writer's are off it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from tokenport.api.refusals import RefusalLog
from tokenport.errors import ModelNotFound, TokenportError, Unauthorized
from tokenport.ledger.writer import Ledger

SCOPE = {"client": ("203.0.113.7", 5000)}
HEADERS = {"authorization": "Bearer tp-bench", "content-type": "application/json"}


async def _timed(log: RefusalLog, n: int, errors: list[TokenportError]) -> float:
    """CPU microseconds of this thread per `note`, in chunks of 500 with the event loop let
    run between them (the journal's flusher then works outside the timed part)."""
    spent = 0.0
    for start in range(0, n, 500):
        t0 = time.thread_time()
        for i in range(start, min(n, start + 500)):
            log.note("chat", SCOPE, HEADERS, errors[i & 1], "m")
        spent += time.thread_time() - t0
        await asyncio.sleep(0)
    return spent / n * 1e6


async def _run(n: int, directory: Path) -> dict[str, float]:
    ledger = Ledger(f"sqlite:///{directory / 'ledger.db'}", directory / "journal")
    await ledger.start()
    keys = {"tp-bench": "key_BENCH"}
    errors: list[TokenportError] = [Unauthorized("no key"), ModelNotFound("nope/model", [])]
    out: dict[str, float] = {}
    try:
        single = RefusalLog(ledger, keys.get, [], per_s=1e12)  # never folds
        out["single_us"] = await _timed(single, n, errors)
        cpu0 = time.process_time()
        await _timed(single, n, errors)
        await ledger.drain(120)
        out["single_plus_writer_cpu_us"] = (time.process_time() - cpu0) / n * 1e6
        folded = RefusalLog(ledger, keys.get, [], per_s=1e-9)  # folds all but the first
        out["folded_us"] = await _timed(folded, n, errors)
        folded.flush()
        await ledger.drain(60)
        out["records"] = float(ledger.stats().committed)
    finally:
        await ledger.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_run(args.n, Path(tmp)))
    print(json.dumps({k: round(v, 2) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
