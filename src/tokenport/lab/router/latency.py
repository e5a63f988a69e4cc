"""Decision latency, as `router eval` reports it: the prompt router's, and the cascade's own
overhead (everything but the model calls and the code sandbox, which is a verifier's cost
and is timed apart).

Wall time is what a request sees; thread CPU time leaves out preemption by other processes,
which on a shared 2-core machine dominates the wall-clock tail.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable

import numpy as np

from tokenport.lab.router.data import RoutingDataset
from tokenport.routing.auto import sandbox
from tokenport.routing.auto.cascade import Answer, stage_vector
from tokenport.routing.auto.cascade_meta import skip
from tokenport.routing.auto.decide import AutoRouter, Pool


def _timed(calls: list[Callable[[], object]]) -> dict[str, float]:
    for call in calls[:50]:
        call()
    gc.collect()
    wall, cpu = [], []
    for call in calls:
        w0, c0 = time.perf_counter(), time.thread_time()
        call()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    ms, cpu_ms = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
    }


def measure_latency(router: AutoRouter, texts: list[str], n: int = 1000) -> dict[str, float]:
    """`AutoRouter.decide`, one prompt at a time."""
    prices = {
        m: 1.0 for m, c in zip(router.models, router.artifact.cost_base, strict=True) if np.isnan(c)
    }
    pool = Pool(name="eval", prices=prices)
    sample = [texts[i % len(texts)] for i in range(n)]
    return _timed([functools.partial(router.decide, t, pool) for t in sample])


def measure_cascade(
    router: AutoRouter, data: RoutingDataset, n: int = 500
) -> dict[str, object] | None:
    """One whole cascade decision per prompt: the prompt router, the skip test, and every
    stage's verifier numbers and trust model on the file's recorded answers."""
    meta = router.artifact.meta.cascade
    if meta is None or data.responses is None or not data.has_responses(meta.chain):
        return None
    col = {m: j for j, m in enumerate(data.models)}
    if any(m not in col for m in meta.chain):
        return None
    names = router.models

    def decide(i: int) -> None:
        q, _ = router.predict(data.texts[i])
        quality = dict(zip(names, q.tolist(), strict=True))
        if skip(meta, quality, meta.threshold):
            return
        answers = [Answer(m, data.responses[i][col[m]] or "") for m in meta.chain]  # type: ignore[index]
        for k, stage in enumerate(meta.stages):
            _, x = stage_vector(meta, k, data.texts[i], answers, quality)
            stage.gain(x)

    out: dict[str, object] = {
        "what": "prompt router + skip + every stage's verifier numbers and trust model; "
        "model calls and the code sandbox excluded",
        **_timed([functools.partial(decide, i % len(data)) for i in range(n)]),
    }
    if meta.code:
        runs = []
        for i in range(min(len(data), 40)):
            text = data.responses[i][col[meta.chain[0]]] or ""
            t0 = time.perf_counter()
            sandbox.run(text, data.texts[i])
            runs.append((time.perf_counter() - t0) * 1e3)
        out["code_verifier_ms"] = {
            "p50": float(np.percentile(runs, 50)),
            "max": float(np.max(runs)),
        }
    return out
