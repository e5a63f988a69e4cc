"""Online learning from user feedback (`POST /api/v1/feedback` -> the ledger -> here).

Each event is (prompt, model, score in [0, 1]). It moves that model's ridge weights one
stochastic-gradient step toward the score on the prompt's features, so similar prompts
shift with it and the rest of the model stays put; `lr` bounds how far one noisy score can
move a prediction (about lr * 2 of the error, as feature vectors have norm about sqrt 2).

Events are appended to a JSONL log and replayed when the router loads
(`routing/autoroute.py`'s `load_router`), so learning
survives restarts without rewriting the trained artifact. The log keeps hashed n-gram
counts and the dense cues, not the prompt text: it is enough to replay and leaks less.
Each event also names the generation it scores and the key that sent it, so a generation
is scored once, and a gateway that requires keys can leave anonymous events out of replay
(`security/feedback_policy.py`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np

from tokenport.routing.auto.decide import AutoRouter
from tokenport.routing.auto.errors import ArtifactError
from tokenport.routing.auto.features import dense_cues, hashed_counts
from tokenport.routing.auto.model import RouterArtifact

DEFAULT_LR = 0.1


class Feedback(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/v1/feedback`: a score in [0, 1] for one of the caller's generations (or,
    for the admin, a prompt and model)."""

    score: float
    id: str | None = None
    prompt: str | None = None
    model: str | None = None


class FeedbackEvent(msgspec.Struct, frozen=True):
    model: str
    score: float
    buckets: list[int]
    counts: list[float]
    cues: list[float]
    at: str
    hash_bits: int
    gen_id: str | None = None
    key_id: str | None = None  # None: sent without a key (an open gateway, or before keys)


def event_for(
    router: AutoRouter,
    prompt: str,
    model: str,
    score: float,
    gen_id: str | None = None,
    key_id: str | None = None,
) -> FeedbackEvent:
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"feedback score must be in [0, 1], got {score}")
    if model not in router.models:
        raise ArtifactError(f"the router was not trained on {model}")
    cfg = router.vectorizer.cfg
    buckets, counts = hashed_counts(prompt, cfg)
    return FeedbackEvent(
        model=model,
        score=float(score),
        buckets=buckets.tolist(),
        counts=counts.tolist(),
        cues=dense_cues(prompt, cfg).tolist(),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        hash_bits=cfg.hash_bits,
        gen_id=gen_id,
        key_id=key_id,
    )


def learn(router: AutoRouter, event: FeedbackEvent, lr: float = DEFAULT_LR) -> float:
    """One SGD step on squared error; returns the prediction error before the step."""
    if event.hash_bits != router.vectorizer.cfg.hash_bits:
        return 0.0  # logged under another feature layout; it cannot be mapped back
    art: RouterArtifact = router.artifact
    m = router.models.index(event.model)
    cols, vals = router.vectorizer.from_parts(
        np.asarray(event.buckets, np.int64),
        np.asarray(event.counts, np.float64),
        np.asarray(event.cues, np.float64),
    )
    predicted = float(np.clip(art.intercept[m] + vals @ art.weights[cols, m], 0.0, 1.0))
    error = predicted - event.score
    art.weights[cols, m] -= lr * error * vals
    return error


class FeedbackLog:
    """Append-only JSONL of events; one lock per log, as gateway workers share a router."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, event: FeedbackEvent) -> None:
        line = msgspec.json.encode(event) + b"\n"
        with self._lock, self.path.open("ab") as fh:
            fh.write(line)

    def read(self) -> list[FeedbackEvent]:
        if not self.path.exists():
            return []
        decoder = msgspec.json.Decoder(FeedbackEvent)
        with self.path.open("rb") as fh:
            return [decoder.decode(line) for line in fh if line.strip()]


def record(
    router: AutoRouter,
    log: FeedbackLog | None,
    prompt: str,
    model: str,
    score: float,
    lr: float = DEFAULT_LR,
    *,
    gen_id: str | None = None,
    key_id: str | None = None,
) -> float:
    """Learn from one feedback score now and persist it; returns the error it corrected."""
    event = event_for(router, prompt, model, score, gen_id, key_id)
    if log is not None:
        log.append(event)
    return learn(router, event, lr)
