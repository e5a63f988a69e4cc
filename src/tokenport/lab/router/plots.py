"""PNG charts for `router eval --plot-dir`: eval only, so matplotlib is imported lazily.

- RouteLLM files: score vs % strong calls per router, with the weak and strong models as
  dashed lines and RouteLLM's 'Optimal' curve, as in routellm/evals/evaluate.py.
- RouterBench files: each router's non-decreasing convex hull in (cost, quality), every
  single model as a labelled point, and the oracle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_plots(report: dict[str, Any], plot_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    plot_dir.mkdir(parents=True, exist_ok=True)
    name = str(report["dataset"])
    paths = []
    if "routellm" in report:
        paths.append(_pair_plot(report["routellm"], name, plot_dir / f"{name}_routellm.png"))
    if "routerbench" in report:
        paths.append(_cost_plot(report["routerbench"], name, plot_dir / f"{name}_cost.png"))
    return paths


def _pair_plot(section: dict[str, Any], name: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for router, r in section["routers"].items():
        xs, ys = zip(*r["curve"], strict=True)
        ax.plot(xs, ys, marker=".", label=f"{router} (APGR {r['apgr']:.3f})")
    opt = section["optimal"]
    ax.plot([float(k.rstrip("%")) for k in opt], list(opt.values()), marker="x", label="optimal")
    for key, color in (("weak", "grey"), ("strong", "red")):
        ax.axhline(section[key]["score"], color=color, linestyle="--", label=section[key]["model"])
    ax.set_xlabel("Strong model calls (%)")
    ax.set_ylabel("Score")
    ax.set_title(f"Quality vs strong calls ({name})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cost_plot(section: dict[str, Any], name: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    for router, r in section["routers"].items():
        xs, ys = zip(*r["hull"], strict=True)
        style = ":" if router == "oracle" else "-"
        ax.plot(xs, ys, style, marker=".", label=f"{router} (AIQ {r['aiq']:.3f})")
    for model, v in section["single_models"].items():
        ax.scatter([v["cost"]], [v["quality"]], marker="o", color="black", s=18)
        ax.annotate(model.split("/")[-1], (v["cost"], v["quality"]), fontsize=7)
    best = section["best_single"]
    ax.axhline(best["quality"], color="red", linestyle="--", linewidth=0.8, label="best single")
    ax.axvline(best["cost"] / 2, color="red", linestyle=":", linewidth=0.8, label="half its cost")
    ax.set_xscale("log")
    ax.set_xlabel("Mean cost per prompt (USD, log)")
    ax.set_ylabel("Mean quality")
    ax.set_title(f"Cost vs quality ({name})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
