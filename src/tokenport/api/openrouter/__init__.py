"""OpenRouter's own API, as its official SDKs call it (`docs/openrouter.md`).

`catalog.py` shapes models and their per-provider endpoints, `records.py` generations,
keys and credit, `routes.py` serves them; `door.py` gives a front door OpenRouter's error
body on the `/api/v1/*` paths.
"""
