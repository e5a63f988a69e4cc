"""`python -m tokenport.routing.auto train|eval ...`: the `tokenport router` group on its own."""

from tokenport.routing.auto.cli import router_app

router_app()
