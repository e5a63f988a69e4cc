"""Models and prices: the catalog derived from models.dev, and who made each model.

Model data derived from models.dev (https://github.com/anomalyco/models.dev),
MIT License, Copyright (c) 2025 models.dev. See `build.py` for what is kept and why (it
runs offline, from `tokenport catalog-rebuild`; serving reads the built file, `store.py`).
"""

from tokenport.catalog.authors import author_of
from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog

__all__ = ["Catalog", "ModelEntry", "author_of"]
