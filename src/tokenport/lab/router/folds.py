"""The evaluation's folds: seeded, with a conversation's turns kept in one fold.

Shared by `router eval`, the cascade's inner fits (`cascade_train.py`) and
`bench/router_study.py`, so all of them split a file the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def group_folds(groups: Sequence[str], folds: int, seed: int) -> list[NDArray[np.intp]]:
    """Row indices of each seeded fold; rows of one group stay in one fold."""
    g = np.array(groups)
    names = np.unique(g)
    shuffled = np.array_split(np.random.default_rng(seed).permutation(len(names)), folds)
    return [np.flatnonzero(np.isin(g, names[s])) for s in shuffled]
