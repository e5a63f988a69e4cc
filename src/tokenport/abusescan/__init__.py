"""The abuse scan, a reader of the ledger: detectors over days of requests, actions by policy.

The per-request part (signals, sketch, cot, the actions cache, the guard) stays in
`security/abuse/`, beside admission; this wing runs in batch (`tokenport abuse scan`,
`GET /api/v1/abuse`), never per request.

edge ──security/abuse/signals.py──> request_signals (ledger)   per request, no prompt text
scan.py: days.py (one summary per day, cached) -> features.py (per key)
         -> detectors.py (per key) + network.py (across keys) -> report.py
"""
