"""Measured energy per output token and throughput, interpolated between measured batch sizes.

The data are the ML.ENERGY leaderboard v3 (`data/ml_energy_llm.csv`, attribution in
`data/sources.toml`): vLLM runs of one model on one GPU type and count, swept over the
server's `max_num_seqs`. One sweep is an `EnergyCurve`. The CSV is parsed once into an
`EnergyTable`; after that a lookup is a dict hit and an interpolation is a bisect.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import data_text, number, positive

CSV_NAME = "ml_energy_llm.csv"
PREFERRED_TASK = "lm-arena-chat"  # short chat turns: the closest to general API traffic
COLUMNS = (
    "model_id",
    "task",
    "gpu_model",
    "num_gpus",
    "weight_precision",
    "total_params_b",
    "active_params_b",
    "max_num_seqs",
    "avg_batch_size",
    "energy_per_token_j",
    "output_tokens_per_s",
)


class OperatingPoint(msgspec.Struct, frozen=True):
    """One deployment at one load. Energy is GPU board energy only, summed over all GPUs."""

    batch_size: float
    energy_j_per_token: float
    tokens_per_s: float
    clamped: bool = False

    @property
    def power_w(self) -> float:
        return self.energy_j_per_token * self.tokens_per_s


@dataclass(frozen=True, eq=False)
class EnergyCurve:
    """One measured sweep: batch sizes ascending, with energy/token and throughput at each."""

    model_id: str
    task: str
    gpu: str
    gpu_count: int
    precision: str
    total_params_b: float
    active_params_b: float
    batch: tuple[float, ...]
    energy: tuple[float, ...]
    throughput: tuple[float, ...]
    _log_batch: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_log_batch", tuple(math.log(b) for b in self.batch))

    @property
    def name(self) -> str:
        return self.model_id.rsplit("/", 1)[-1]

    @property
    def label(self) -> str:
        return f"{self.name} on {self.gpu_count}x{self.gpu} ({self.task})"

    def at(self, batch_size: float) -> OperatingPoint:
        """Interpolate at `batch_size`, which must lie inside the measured range."""
        b = positive("batch_size", batch_size)
        low, high = self.batch[0], self.batch[-1]
        if not low <= b <= high:
            raise CostInputError(
                "batch_size",
                f"{b:g} is outside the measured range {low:g}-{high:g} of {self.label}",
            )
        return self._interpolate(b, clamped=False)

    def at_clamped(self, batch_size: float) -> OperatingPoint:
        """Like `at`, but a batch outside the measured range is moved to its nearer end."""
        b = positive("batch_size", batch_size)
        inside = min(max(b, self.batch[0]), self.batch[-1])
        return self._interpolate(inside, clamped=inside != b)

    def at_load(self, load: float) -> OperatingPoint:
        """`load` 0..1 runs from the smallest to the largest measured batch, evenly in log."""
        share = number("load", load)
        if not 0 <= share <= 1:
            raise CostInputError("load", f"must be in [0, 1], got {share:g}")
        if share in (0.0, 1.0):  # the measured ends exactly, not exp(log()) of them
            return self._interpolate(self.batch[-1] if share else self.batch[0], clamped=False)
        log_b = self._log_batch[0] + share * (self._log_batch[-1] - self._log_batch[0])
        return self._interpolate(math.exp(log_b), clamped=False)

    def _interpolate(self, b: float, clamped: bool) -> OperatingPoint:
        # Log-log: energy/token falls roughly as a power of batch (the weight reads are shared
        # by the whole batch), and the sweeps double the batch, so straight lines in log space
        # follow the curve where linear ones would sag between 8 and 16 or 512 and 1024.
        log_b = math.log(b)
        i = min(max(bisect.bisect_left(self._log_batch, log_b), 1), len(self.batch) - 1)
        x0, x1 = self._log_batch[i - 1], self._log_batch[i]
        t = 0.0 if x1 == x0 else (log_b - x0) / (x1 - x0)
        return OperatingPoint(
            batch_size=b,
            energy_j_per_token=_log_lerp(self.energy[i - 1], self.energy[i], t),
            tokens_per_s=_log_lerp(self.throughput[i - 1], self.throughput[i], t),
            clamped=clamped,
        )


def _log_lerp(y0: float, y1: float, t: float) -> float:
    if t in (0.0, 1.0):  # a measured point comes back exactly as measured
        return y0 if t == 0.0 else y1
    return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))


class EnergyTable:
    """All measured curves, indexed for lookup by (model, GPU, GPU count, task)."""

    def __init__(self, curves: Sequence[EnergyCurve]) -> None:
        self.curves = tuple(curves)
        self._found: dict[tuple[str, str, int | None, str | None], EnergyCurve] = {}

    @classmethod
    def load(cls) -> EnergyTable:
        return cls.from_csv(data_text(CSV_NAME))

    @classmethod
    def from_csv(cls, text: str) -> EnergyTable:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise CostInputError(f"{CSV_NAME}.{missing[0]}", "column missing from the energy table")
        groups: dict[tuple[str, str, str, int], list[Mapping[str, str]]] = defaultdict(list)
        for row in reader:
            key = (row["model_id"], row["task"], row["gpu_model"], int(row["num_gpus"]))
            groups[key].append(row)
        return cls([_curve(rows) for rows in groups.values()])

    def find(
        self, model: str, gpu: str, gpu_count: int | None = None, task: str | None = None
    ) -> EnergyCurve:
        """The curve for `model` on `gpu`; the fewest measured GPUs and the chat task by default."""
        key = (model, gpu, gpu_count, task)
        if key not in self._found:
            self._found[key] = self._find(*key)
        return self._found[key]

    def _find(self, model: str, gpu: str, gpu_count: int | None, task: str | None) -> EnergyCurve:
        model_id = self._match_model(model, gpu)
        on_model = [c for c in self.curves if c.model_id == model_id]
        on_gpu = [c for c in on_model if c.gpu.lower() == gpu.lower()]
        if not on_gpu:
            raise CostInputError(
                "gpu", f"{model_id} was not measured on {gpu!r}", sorted({c.gpu for c in on_model})
            )
        counts = sorted({c.gpu_count for c in on_gpu})
        count = counts[0] if gpu_count is None else gpu_count
        if count not in counts:
            raise CostInputError(
                "gpu_count",
                f"{model_id} was not measured on {count}x{gpu}",
                [str(n) for n in counts],
            )
        on_count = [c for c in on_gpu if c.gpu_count == count]
        tasks = sorted({c.task for c in on_count})
        chosen = task or (PREFERRED_TASK if PREFERRED_TASK in tasks else tasks[0])
        if chosen not in tasks:
            raise CostInputError(
                "task", f"{model_id} on {count}x{gpu} has no {chosen!r} runs", tasks
            )
        return next(c for c in on_count if c.task == chosen)

    def _match_model(self, model: str, gpu: str) -> str:
        # Exact id or name first, then the shortest name starting with the query, so that
        # "Llama-3.1-70B" means the BF16 instruct model and not its "-FP8" sibling; among
        # equally good names, one measured on the requested GPU wins.
        query = model.strip().lower()
        ids = sorted({c.model_id for c in self.curves}, key=lambda m: (len(m), m))
        on_gpu = {c.model_id for c in self.curves if c.gpu.lower() == gpu.lower()}
        for tests in (_exact, _prefix, _contains):
            hits = [m for m in ids if tests(query, m.lower())]
            if hits:
                return next((m for m in hits if m in on_gpu), hits[0])
        raise CostInputError("model", f"no energy measurements for {model!r}", self.model_names())

    def model_names(self) -> list[str]:
        return sorted({c.name for c in self.curves})

    def gpus(self) -> list[str]:
        return sorted({c.gpu for c in self.curves})

    def energy_range(self) -> tuple[float, float]:
        """The lowest and highest measured J/token over every row."""
        values = [e for c in self.curves for e in c.energy]
        return min(values), max(values)


def _exact(query: str, model_id: str) -> bool:
    return query in (model_id, model_id.rsplit("/", 1)[-1])


def _prefix(query: str, model_id: str) -> bool:
    return model_id.rsplit("/", 1)[-1].startswith(query.rsplit("/", 1)[-1])


def _contains(query: str, model_id: str) -> bool:
    return query in model_id


def _curve(rows: Iterable[Mapping[str, str]]) -> EnergyCurve:
    # Some sweeps repeat a max_num_seqs setting (two runs of one configuration); averaging the
    # repeats keeps the batch axis strictly increasing, which interpolation needs.
    by_seqs: dict[int, list[Mapping[str, str]]] = defaultdict(list)
    for row in rows:
        by_seqs[int(row["max_num_seqs"])].append(row)
    points = [
        (
            _mean(g, "avg_batch_size"),
            _mean(g, "energy_per_token_j"),
            _mean(g, "output_tokens_per_s"),
        )
        for _, g in sorted(by_seqs.items())
    ]
    points.sort()
    first = next(iter(by_seqs.values()))[0]
    return EnergyCurve(
        model_id=first["model_id"],
        task=first["task"],
        gpu=first["gpu_model"],
        gpu_count=int(first["num_gpus"]),
        precision=first["weight_precision"],
        total_params_b=float(first["total_params_b"]),
        active_params_b=float(first["active_params_b"]),
        batch=tuple(p[0] for p in points),
        energy=tuple(p[1] for p in points),
        throughput=tuple(p[2] for p in points),
    )


def _mean(rows: Sequence[Mapping[str, str]], column: str) -> float:
    return sum(positive(f"{CSV_NAME}.{column}", r[column]) for r in rows) / len(rows)
