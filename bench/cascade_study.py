"""Issue 16's targets for the `auto` cascade, and what limits each one, on the given files.

    python bench/cascade_study.py                       # six files, 3 seeds: ~12 min here
    python bench/cascade_study.py --datasets gsm8k --seeds 1

For every file in `../shared/data/routing/` (the given half of each dataset), `router eval`'s
own 5-fold cross-validation (`eval.score_cv`: the cascade and every baseline trained without
the fold they score), over `--seeds` fold seeds. Each cell is the mean [min, max].

Pair files (RouteLLM): APGR, CPT(50%) and the total cost of every call at CPT(50%) relative
to always calling the strong model, for `auto` (the cascade) and `prompt_only`; then what
limits the cascade: the ROC AUC of its escalation score for "the strong model answers
better", the AUC a synthetic router needs to reach the target (`router_study.auc_needed`),
and the APGR of a perfect verifier (escalating exactly the prompts the strong model gains on).

RouterBench files: the best quality each router reaches within 50% of the best single
model's cost, every call counted, and the least cost share at which it matches that model;
then the limit: the same for a perfect verifier on the cascade's own chain (trust the first
chain answer that is right, else the strong model), and for the agreement the chain offers
(the share of the strong model's right answers that are wrong where the chain agrees).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.router_study import DATA, DATASETS, auc_needed  # noqa: E402
from tokenport.lab.router import cascade_eval, metrics  # noqa: E402
from tokenport.lab.router.costs import call_costs  # noqa: E402
from tokenport.lab.router.data import RoutingDataset, load_dataset  # noqa: E402
from tokenport.lab.router.eval import score_cv  # noqa: E402
from tokenport.lab.router.report import (  # noqa: E402
    APGR_DEFAULT,
    APGR_TARGET,
    CPT50_TARGET,
    MATCH_COST_SHARE,
    MATCH_DEFAULT,
    Scored,
    cost_report,
    pair_report,
)
from tokenport.lab.router.train import TrainConfig  # noqa: E402
from tokenport.routing.auto import checks  # noqa: E402

FloatArray = NDArray[np.float64]


def pair_limits(data: RoutingDataset, scored: Scored) -> dict[str, float]:
    w, s = data.pair_columns()
    weak, strong = data.scores[:, w], data.scores[:, s]
    gain = strong - weak
    out = {}
    if scored.runs:
        score, _ = cascade_eval.pair_scores(scored.runs, len(data))
        out["auc"] = float(roc_auc_score(gain > 0, score))
    p = scored.preds["prompt_only"]
    out["prompt_auc"] = float(roc_auc_score(gain > 0, p.quality[:, s] - p.quality[:, w]))
    perfect = metrics.routellm_curve(gain + 1e-9 * np.arange(len(gain)), weak, strong)
    out["perfect_apgr"] = metrics.apgr(perfect)
    return out


def chain_limits(data: RoutingDataset, scored: Scored) -> dict[str, float]:
    """A perfect verifier on each fold's own chain, and the agreement ceiling."""
    best_col = int(np.argmax(data.scores.mean(0)))
    best_cost = float(data.costs[:, best_col].mean())
    cost = value = 0.0
    lost = right = 0.0
    for r in scored.runs:
        rows = r.rows
        served = np.full(len(rows), r.strong)
        spent = np.zeros(len(rows))
        open_ = np.ones(len(rows), bool)
        for c in r.chain:
            spent[open_] += data.costs[rows[open_], c]
            ok = open_ & (data.scores[rows, c] >= 1.0)
            served[ok] = c
            open_ &= ~ok
        spent[open_] += data.costs[rows[open_], r.strong]
        cost += spent.sum()
        value += data.scores[rows, served].sum()
        # where the whole chain agrees, how often it is wrong while the strong model is right
        agree = np.array([_agree(data, i, r.chain) for i in rows])
        first = r.chain[0]
        lost += float(
            ((data.scores[rows, first] < 1) & (data.scores[rows, r.strong] >= 1) & agree).sum()
        )
        right += float(agree.sum())
    n = sum(len(r.rows) for r in scored.runs)
    return {
        "perfect_verifier_quality": value / n,
        "perfect_verifier_cost_share": cost / n / best_cost,
        "chain_agrees_share": right / n,
        "chain_agrees_yet_loses_share": lost / max(right, 1.0),
    }


def _agree(data: RoutingDataset, i: int, chain: list[int]) -> bool:
    """Every chain answer reaches one conclusion (`checks.canonical`); code and long free
    text have none to compare, so never agree here."""
    assert data.responses is not None
    got = {checks.canonical(data.texts[i], data.responses[i][c] or "") for c in chain}
    return len(got) == 1 and None not in got


def study(path: Path, seeds: int) -> dict[str, Any]:
    data = load_dataset(path)
    runs: list[dict[str, Any]] = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        scored = score_cv(data, 5, TrainConfig(seed=seed), seed)
        one: dict[str, Any] = {"seconds": time.perf_counter() - t0}
        if data.is_pair:
            report = pair_report(data, scored, call_costs(data))
            for name in ("auto", "prompt_only"):
                r = report["routers"][name]
                one[name] = {
                    "kind": r.get("kind", "prompt"),
                    "apgr": r["apgr"],
                    "cpt50": r["cpt"]["50%"],
                    "cost50": r.get("total_cost_share_at_cpt50"),
                }
            one["limits"] = pair_limits(data, scored)
        if data.has_costs:
            report = cost_report(data, scored)
            for name in ("auto", "prompt_only"):
                r = report["routers"][name]
                one[name] = {
                    "kind": r.get("kind", "prompt"),
                    "q_half": r["quality_at_half_cost"],
                    "match": r["match_cost_share"],
                    "aiq": r["aiq"],
                }
            one["best"] = report["best_single"]
            if scored.runs:
                one["limits"] = chain_limits(data, scored)
                one["chains"] = [r.meta.chain for r in scored.runs]
        runs.append(one)
        print(f"  {data.name} seed {seed}: {json.dumps(one, default=float)[:300]}", flush=True)
    out: dict[str, Any] = {"dataset": data.name, "n": len(data), "seeds": seeds, "runs": runs}
    if data.is_pair:
        target = APGR_TARGET.get(data.name, APGR_DEFAULT)
        out["apgr_target"] = target
        out["auc_needed"] = auc_needed(data, target)
    return out


def _cell(values: list[float | None], fmt: str = ".3f", scale: float = 1.0) -> str:
    got = [v * scale for v in values if v is not None]
    if not got:
        return "never"
    cell = f"{np.mean(got):{fmt}} [{min(got):{fmt}}, {max(got):{fmt}}]"
    return cell if len(got) == len(values) else f"{cell} ({len(got)}/{len(values)} seeds)"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| file | n | router | APGR | CPT(50%) | cost at CPT(50%) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    rb = [
        "| file | n | router | quality at <=50% cost | best single | match share | target share |",
        "|---|---|---|---|---|---|---|",
    ]
    limits = []
    for res in results:
        name, n, runs = res["dataset"], res["n"], res["runs"]
        if "apgr_target" in res:
            cap = CPT50_TARGET.get(name)
            target = f"APGR >= {res['apgr_target']}" + (f", CPT(50%) <= {cap:g}%" if cap else "")
            for router in ("auto", "prompt_only"):
                rs = [r[router] for r in runs]
                apgr = _cell([r["apgr"] for r in rs])
                cpt = _cell([r["cpt50"] for r in rs], ".1f")
                cost = _cell([r["cost50"] for r in rs], ".1f", 100)
                who = f"{router} ({rs[0]['kind']})"
                lines.append(f"| {name} | {n} | {who} | {apgr} | {cpt}% | {cost}% | {target} |")
            lim = [r["limits"] for r in runs]
            auc = _cell([x.get("auc") for x in lim])
            prompt_auc = _cell([x["prompt_auc"] for x in lim])
            if runs[0]["auto"]["kind"] == "cascade":
                who = (
                    f"the cascade's escalation score has ROC AUC {auc} for 'the strong model "
                    f"answers better' (the prompt router's: {prompt_auc})"
                )
            else:
                who = f"no cascade (no answers in the file); the prompt router's AUC {prompt_auc}"
            limits.append(
                f"- **{name}**: {who}; a synthetic router needs about {res['auc_needed']:.3f} "
                f"to reach APGR {res['apgr_target']}; escalating exactly the prompts the strong "
                f"model gains on reaches APGR {lim[0]['perfect_apgr']:.3f}."
            )
        else:
            cap = MATCH_COST_SHARE.get(name, MATCH_DEFAULT)
            best = runs[0]["best"]
            top = f"{best['quality']:.3f} ({best['model']})"
            for router in ("auto", "prompt_only"):
                rs = [r[router] for r in runs]
                half, match = _cell([r["q_half"] for r in rs]), _cell([r["match"] for r in rs])
                who = f"{router} ({rs[0]['kind']})"
                rb.append(f"| {name} | {n} | {who} | {half} | {top} | {match} | <= {cap:.0%} |")
            if "limits" in runs[0]:
                lim = [r["limits"] for r in runs]
                chains = ", ".join(" -> ".join(c) for c in runs[0]["chains"][:2])
                q = _cell([x["perfect_verifier_quality"] for x in lim])
                c = _cell([x["perfect_verifier_cost_share"] for x in lim], ".0f", 100)
                agrees = _cell([x["chain_agrees_share"] for x in lim], ".0f", 100)
                loses = _cell([x["chain_agrees_yet_loses_share"] for x in lim], ".1f", 100)
                limits.append(
                    f"- **{name}** (chains {chains}, ...): a perfect verifier on the same chain "
                    f"reaches {q} at {c}% of the best model's cost; the chain agrees on {agrees}% "
                    f"of prompts, and there its answer is wrong where the best model is right "
                    f"{loses}% of the time."
                )
    return "\n".join(lines) + "\n\n" + "\n".join(rb) + "\n\n" + "\n".join(limits) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DATA)
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "cascade_study")
    args = p.parse_args(argv)
    results = []
    for name in args.datasets:
        path = args.data_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"error: {path} not found", file=sys.stderr)
            return 2
        print(f"{name} ...", flush=True)
        results.append(study(path, args.seeds))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "study.json").write_text(json.dumps(results, indent=1, default=float))
    md = markdown(results)
    (args.out / "study.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
