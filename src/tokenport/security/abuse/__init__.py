"""Distillation and abuse defense: signals per request, detectors over the ledger, actions.

edge ──signals.py──> request_signals (ledger)      per request, cheap, no prompt text
scan.py: days.py (one summary per day, cached) -> features.py (per key)
         -> detectors.py (per key) + network.py (across keys) -> report.py
policy.py: the report's verdicts -> actions (actions.py) -> admission (guard.py)
"""
