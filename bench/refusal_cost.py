"""What recording a refused request costs, in-process (microseconds per refusal).

    python bench/refusal_cost.py [--n 20000]

Times exactly the edge's hook (`RefusalLog.note`, api/refusals.py) over a real `Ledger`
(SQLite in a scratch directory, its journal fsynced as in production), in three cases:

- `single`: under `refusal_records_per_s`, each refusal becomes its own record (ULID,
  client prefix, msgpack, journal buffer);
- `folded`: past the rate, a flood: each refusal is counted in an aggregate;
- `single_plus_writer_cpu`: the process CPU per refusal of the `single` run including the
  background work it causes (the journal's group writes, the database batches with their
  rollups), from the first note until the ledger has drained.

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
from tokenport.errors import ModelNotFound, Unauthorized
from tokenport.ledger.writer import Ledger

SCOPE = {"client": ("203.0.113.7", 5000)}
HEADERS = {"authorization": "Bearer tp-bench", "content-type": "application/json"}


async def _run(n: int, directory: Path) -> dict[str, float]:
    ledger = Ledger(f"sqlite:///{directory / 'ledger.db'}", directory / "journal")
    await ledger.start()
    keys = {"tp-bench": "key_BENCH"}
    errors = [Unauthorized("no key"), ModelNotFound("nope/model", [])]
    out: dict[str, float] = {}
    try:
        single = RefusalLog(ledger, keys.get, [], per_s=1e12)  # never folds
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for i in range(n):
            single.note("chat", SCOPE, HEADERS, errors[i & 1], "m")
            if i % 500 == 499:
                await asyncio.sleep(0)  # let the writer run, as between requests
        out["single_us"] = (time.perf_counter() - t0) / n * 1e6
        await ledger.drain(120)
        out["single_plus_writer_cpu_us"] = (time.process_time() - cpu0) / n * 1e6
        folded = RefusalLog(ledger, keys.get, [], per_s=1e-9)  # folds all but the first
        t0 = time.perf_counter()
        for i in range(n):
            folded.note("chat", SCOPE, HEADERS, errors[i & 1], "m")
        out["folded_us"] = (time.perf_counter() - t0) / n * 1e6
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
