"""`model: "auto"`: route each prompt to the cheapest model that is good enough.

Runtime (numpy only): `AutoRouter.load(path).decide(prompt, pool, quality_floor, max_price)`
returns a `Decision`. Training (`train_router`), feedback (`feedback.record`) and evaluation
(`eval.py`, `baselines.py`) are numpy only too; only `router eval --plot-dir` (`plots.py`)
needs matplotlib, the optional `tokenport[plots]` extra.
"""

from tokenport.routing.auto.data import RoutingDataset, load_dataset, merge
from tokenport.routing.auto.decide import AutoRouter, Decision, Pool, choose
from tokenport.routing.auto.errors import ArtifactError, DatasetError, NoCandidateError
from tokenport.routing.auto.model import RouterArtifact
from tokenport.routing.auto.train import TrainConfig, train_router

__all__ = [
    "ArtifactError",
    "AutoRouter",
    "DatasetError",
    "Decision",
    "NoCandidateError",
    "Pool",
    "RouterArtifact",
    "RoutingDataset",
    "TrainConfig",
    "choose",
    "load_dataset",
    "merge",
    "train_router",
]
