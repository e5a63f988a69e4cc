"""Distillation and abuse defense, the per-request part: signals, the actions in force.

edge ──signals.py──> request_signals (ledger)      per request, cheap, no prompt text
       (text.py, sketch.py, cot.py, topics.py + topics.toml: what signals.py reads)
admission ──guard.py──> the actions in force (actions.py, cached), per request

The batch scan that reads those signals and decides the actions is `tokenport.abusescan`
(scan.py -> report.py -> policy.py -> actions.py).
"""
