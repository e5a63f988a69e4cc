"""Routing datasets: one JSONL file each, read into a typed `RoutingDataset`.

Line 1 is `{"header": {...}}`; it names the models, either as `models: [...]` (RouterBench)
or as a `weak`/`strong` pair (RouteLLM). Every later line is one prompt:
`{"id", "prompt", "models": {name: {"score", "cost_usd"?}}, ...}`. A prompt is a string, a
list of user turns, or (RouterBench) the string form of a Python list of turns.

Files are split on "\\n" only: some MMLU prompts hold U+0085, which `str.splitlines`
would treat as a line break.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto.errors import DatasetError

FloatArray = NDArray[np.float64]


class Header(msgspec.Struct, frozen=True):
    dataset: str
    models: list[str] | None = None
    weak: str | None = None
    strong: str | None = None
    score: str = ""


class ModelResult(msgspec.Struct, frozen=True):
    score: float
    cost_usd: float | None = None
    # The model's answer text, where the file keeps it: what a cascade's verifiers read.
    response: str | None = None


class Row(msgspec.Struct, frozen=True):
    id: str
    prompt: str | list[str]
    models: dict[str, ModelResult]
    turn: int | None = None

    @property
    def group(self) -> str:
        """Turns of one conversation share a group (MT-Bench's `q-81-1`, `q-81-2`): a later
        turn's prompt holds the earlier ones, so folds must not split them."""
        return self.id.rsplit("-", 1)[0] if self.turn is not None else self.id


class _HeaderLine(msgspec.Struct, frozen=True):
    header: Header


@dataclass(frozen=True)
class RoutingDataset:
    """Scores and costs are (n_prompts, n_models); NaN where a model has no result."""

    name: str
    models: tuple[str, ...]
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    scores: FloatArray
    costs: FloatArray
    weak: str | None = None
    strong: str | None = None
    groups: tuple[str, ...] = ()
    # responses[i][j]: model j's answer to prompt i, None where the file has none; the
    # whole field is None for files without answers (MMLU keeps only scores).
    responses: tuple[tuple[str | None, ...], ...] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_costs(self) -> bool:
        return bool(np.isfinite(self.costs).any())

    @property
    def is_pair(self) -> bool:
        return self.weak is not None and self.strong is not None

    def has_responses(self, models: Sequence[str] | None = None) -> bool:
        """Whether every prompt has an answer from each of `models` (default: any model)."""
        if self.responses is None:
            return False
        cols = [self.models.index(m) for m in models] if models else None
        if cols is None:
            return any(any(r is not None for r in row) for row in self.responses)
        return all(all(row[j] is not None for j in cols) for row in self.responses)

    def pair_columns(self) -> tuple[int, int]:
        """Column indices of the weak and the strong model of a RouteLLM pair file."""
        if self.weak is None or self.strong is None:
            raise DatasetError(self.name, "not a weak/strong pair file")
        return self.models.index(self.weak), self.models.index(self.strong)

    def score_range(self) -> tuple[float, float]:
        finite = self.scores[np.isfinite(self.scores)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def quality(self) -> FloatArray:
        """Scores mapped to [0, 1] so that files with other scales (1-10 judges) can mix."""
        lo, hi = self.score_range()
        return (self.scores - lo) / (hi - lo)

    def subset(self, rows: Sequence[int] | NDArray[np.intp]) -> RoutingDataset:
        idx = np.asarray(rows, dtype=np.intp)
        return RoutingDataset(
            name=self.name,
            models=self.models,
            ids=tuple(self.ids[i] for i in idx),
            texts=tuple(self.texts[i] for i in idx),
            scores=self.scores[idx],
            costs=self.costs[idx],
            weak=self.weak,
            strong=self.strong,
            groups=tuple(self.groups[i] for i in idx) if self.groups else (),
            responses=None if self.responses is None else tuple(self.responses[i] for i in idx),
        )


def prompt_text(prompt: str | list[str]) -> str:
    """The text the router sees: user turns joined by a blank line."""
    if isinstance(prompt, str) and prompt[:2] in ("['", '["') and prompt[-2:] in ("']", '"]'):
        try:
            parsed = ast.literal_eval(prompt)
        except (ValueError, SyntaxError):
            return prompt
        if isinstance(parsed, list) and all(isinstance(t, str) for t in parsed):
            return "\n\n".join(parsed)
        return prompt
    if isinstance(prompt, list):
        return "\n\n".join(prompt)
    return prompt


def load_dataset(path: str | Path) -> RoutingDataset:
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="\n") as fh:
            lines = [line for line in fh if line.strip()]
    except OSError as exc:
        raise DatasetError(str(path), f"cannot read: {exc}") from exc
    if not lines:
        raise DatasetError(str(path), "empty file")
    header = _decode(_HeaderLine, lines[0], f"{path}:1").header
    rows = [_decode(Row, line, f"{path}:{i}") for i, line in enumerate(lines[1:], start=2)]
    return _build(header, rows, str(path))


def _decode(kind: type[Any], line: str, where: str) -> Any:
    try:
        return msgspec.json.decode(line, type=kind)
    except msgspec.DecodeError as exc:
        raise DatasetError(where, str(exc)) from exc


def _build(header: Header, rows: list[Row], where: str) -> RoutingDataset:
    models = _model_names(header, rows)
    if not rows:
        raise DatasetError(where, "no prompts after the header")
    scores = np.full((len(rows), len(models)), np.nan)
    costs = np.full((len(rows), len(models)), np.nan)
    answers: list[list[str | None]] = [[None] * len(models) for _ in rows]
    col = {m: j for j, m in enumerate(models)}
    for i, row in enumerate(rows):
        for name, res in row.models.items():
            if name not in col:
                raise DatasetError(where, f"prompt {row.id}: model {name!r} not in the header")
            scores[i, col[name]] = res.score
            if res.cost_usd is not None:
                costs[i, col[name]] = res.cost_usd
            if res.response is not None:
                answers[i][col[name]] = prompt_text(res.response)
    has_answers = any(a is not None for row in answers for a in row)
    return RoutingDataset(
        name=header.dataset,
        models=models,
        ids=tuple(r.id for r in rows),
        texts=tuple(prompt_text(r.prompt) for r in rows),
        scores=scores,
        costs=costs,
        weak=header.weak,
        strong=header.strong,
        groups=tuple(r.group for r in rows),
        responses=tuple(tuple(row) for row in answers) if has_answers else None,
    )


def _model_names(header: Header, rows: Iterable[Row]) -> tuple[str, ...]:
    if header.models:
        return tuple(header.models)
    if header.weak and header.strong:
        return (header.weak, header.strong)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row.models))
    return tuple(seen)


def align(data: RoutingDataset, models: Sequence[str]) -> RoutingDataset:
    """The same prompts with columns in `models` order (a test file may list them anew)."""
    if tuple(models) == data.models:
        return data
    if set(models) != set(data.models):
        raise DatasetError(data.name, f"models {sorted(data.models)} differ from {sorted(models)}")
    cols = [data.models.index(m) for m in models]
    responses = (
        None
        if data.responses is None
        else tuple(tuple(row[j] for j in cols) for row in data.responses)
    )
    return replace(
        data,
        models=tuple(models),
        scores=data.scores[:, cols],
        costs=data.costs[:, cols],
        responses=responses,
    )


def merge(datasets: Sequence[RoutingDataset]) -> RoutingDataset:
    """Stack several files for one router; a model missing from a file scores NaN there.

    Scores are rescaled to [0, 1] per file first, so a 1-10 judge and 0/1 accuracy agree.
    """
    if len(datasets) == 1:
        return datasets[0]
    models = tuple(dict.fromkeys(m for d in datasets for m in d.models))
    blocks_s, blocks_c = [], []
    for d in datasets:
        where = [models.index(m) for m in d.models]
        s = np.full((len(d), len(models)), np.nan)
        c = np.full((len(d), len(models)), np.nan)
        s[:, where] = d.quality()
        c[:, where] = d.costs
        blocks_s.append(s)
        blocks_c.append(c)
    pairs = {(d.weak, d.strong) for d in datasets}
    weak, strong = pairs.pop() if len(pairs) == 1 else (None, None)
    answers: list[tuple[str | None, ...]] = []
    for d in datasets:
        where = [models.index(m) for m in d.models]
        for i in range(len(d)):
            row: list[str | None] = [None] * len(models)
            if d.responses is not None:
                for j, k in enumerate(where):
                    row[k] = d.responses[i][j]
            answers.append(tuple(row))
    return RoutingDataset(
        name="+".join(d.name for d in datasets),
        models=models,
        ids=tuple(f"{d.name}/{i}" for d in datasets for i in d.ids),
        texts=tuple(t for d in datasets for t in d.texts),
        scores=np.vstack(blocks_s),
        costs=np.vstack(blocks_c),
        weak=weak,
        strong=strong,
        responses=tuple(answers) if any(d.responses for d in datasets) else None,
    )
