"""`model: "auto"`: route each prompt to the cheapest model that is good enough.

Runtime (numpy only): `AutoRouter.load(path).decide(prompt, pool, quality_floor, max_price)`
returns a `Decision`. Training, evaluation and the study's reports live offline in
`tokenport.lab.router`; nothing here imports them, so a gateway process never loads them.
"""

from tokenport.routing.auto.decide import AutoRouter, Decision, Pool, choose
from tokenport.routing.auto.errors import ArtifactError, DatasetError, NoCandidateError
from tokenport.routing.auto.model import RouterArtifact

__all__ = [
    "ArtifactError",
    "AutoRouter",
    "DatasetError",
    "Decision",
    "NoCandidateError",
    "Pool",
    "RouterArtifact",
    "choose",
]
