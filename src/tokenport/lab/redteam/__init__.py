"""The red team's traffic for the distillation defense (issue 26), written without reading
the detector: evasive harvesting campaigns, honest hard negatives, a driver that plays them
through a real gateway, and a scorer over `tokenport abuse scan --json`.

Offline tooling: nothing in the gateway imports it. See docs/redteam.md.
"""
