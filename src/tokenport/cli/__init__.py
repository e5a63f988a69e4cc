"""The `tokenport` command, the top floor: `main.py` wires it, and each area's commands
live in a module here (`keys.py`, `abuse.py`, `router.py`, ...), so no runtime package
holds a command-line shell that reaches back up."""

from tokenport.cli.main import _register_areas, app, main

__all__ = ["_register_areas", "app", "main"]
