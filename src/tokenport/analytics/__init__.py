"""Rankings and analytics over the ledger's rollups: API, dashboard, export.

rollups.py   the rollup rows a ranking reads (kept by the ledger's batch insert)
source.py    reads: per-period sums, latest hour, key table (connections: tokenport.db)
periods.py   day / week / month windows, rolling or calendar
rankings.py  pure: rows + catalog + key countries -> the `Rankings` object
service.py   query parameters -> `Rankings` (shared by api.py and cli/analytics.py)
api.py       GET /api/v1/rankings, /dashboard (dashboard/, static/ = vendored Chart.js)
export.py    `tokenport export` to CSV / Parquet

The simulator and its self-check (`tokenport simulate`) and the rankings benchmark live in
the lab (`lab/scenario.py`, `lab/simulate.py`, `lab/check.py`, `lab/bench_rankings.py`).
"""
