"""The router's offline work: datasets, training, evaluation, baselines, reports and plots.

`tokenport router train|eval` (cli/router.py) and the studies in bench/ drive it; it writes
the artifact that the runtime (`routing/auto/`: decide, features, model, verify, sandbox,
checks) loads. Numpy only; `router eval --plot-dir` (`plots.py`) needs matplotlib, the
optional `tokenport[plots]` extra.
"""

from tokenport.lab.router.data import RoutingDataset, load_dataset, merge
from tokenport.lab.router.train import TrainConfig, train_router

__all__ = ["RoutingDataset", "TrainConfig", "load_dataset", "merge", "train_router"]
