"""`python -m tokenport.lab.redteam --scenario small --out DIR`: build a scenario, play it
through a fresh gateway, scan it with `tokenport abuse scan --json`, and score the scan.

DIR receives truth.json (key id -> label, style or population, unit, requests), scan.json
(the scan's own output), report.json (the figures) and the gateway's config and log.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from tokenport.lab.redteam import score
from tokenport.lab.redteam.driver import play
from tokenport.lab.redteam.scenario import SCENARIOS, build, with_effort


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenport.lab.redteam", description=__doc__)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="small")
    ap.add_argument("--out", type=Path, required=True, help="a new or empty directory")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--effort", type=float, default=None, help="every campaign at this 0..1")
    ap.add_argument("--database-url", default=None, help="default: a SQLite file in --out")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rescore", action="store_true", help="only re-run the scan on --out's ledger")
    args = ap.parse_args(argv)
    out: Path = args.out
    if args.rescore:
        url = args.database_url or f"sqlite:///{out / 'ledger.db'}"
        truth = score.load_truth(out / "truth.json")
    else:
        if out.exists() and any(out.iterdir()):
            ap.error(f"{out} is not empty")
        sc = SCENARIOS[args.scenario]
        if args.effort is not None:
            if not 0 <= args.effort <= 1:
                ap.error("--effort must be within 0..1")
            sc = with_effort(sc, args.effort)
        accounts = build(sc, args.seed)
        played = play(accounts, out, args.database_url, args.concurrency)
        print(
            f"played {played.sent} requests from {len(played.truth)} keys in "
            f"{played.seconds:.0f} s ({played.failed} failed)",
            file=sys.stderr,
        )
        url, truth = played.database_url, played.truth
    report = score.evaluate(truth, score.scan(url, out / "scan.json"))
    (out / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(report)))
    print(score.table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
