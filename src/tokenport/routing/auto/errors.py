"""The auto router's errors, each a leaf of tokenport's one tree (`tokenport.errors`).

    ConfigError
    ├── DatasetError        a routing JSONL file is missing, malformed or inconsistent
    └── ArtifactError       a router artifact is missing, corrupt or of another format version
    BadRequest
    └── NoCandidateError    no model of the pool can serve the request within its limits

Data and artifacts are read at start or from the CLI, so their problems are configuration
problems; an impossible `max_price` is the caller's and maps to a 400.
"""

from __future__ import annotations

from tokenport.errors import BadRequest, ConfigError


class DatasetError(ConfigError):
    """`where` names the file and, when known, the 1-based line."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class ArtifactError(ConfigError):
    pass


class NoCandidateError(BadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, param="max_price")
