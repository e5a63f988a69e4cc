"""`model: "auto"`: route each prompt to the cheapest model that is good enough.

Runtime (numpy only): `AutoRouter.load(path).decide(prompt, pool, quality_floor, max_price)`
returns a `Decision`. Training (`train_router`) and feedback (`feedback.record`) are numpy
only too; evaluation (`eval.py`, `baselines.py`, `plots.py`) may use scikit-learn and
matplotlib, which are dev dependencies.
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
