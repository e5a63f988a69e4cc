"""Rankings and analytics over the ledger's rollups: API, dashboard, CLI, simulator, export.

rollups.py   narrow per-dimension hourly rollups (kept by the ledger's batch insert)
source.py    reads: per-period sums, latest hour, key table (connections: tokenport.db)
periods.py   day / week / month windows, rolling or calendar
rankings.py  pure: rows + catalog + key countries -> the `Rankings` object
service.py   query parameters -> `Rankings` (shared by api.py and cli.py)
api.py       GET /api/v1/rankings, /dashboard (dashboard/, static/ = vendored Chart.js)
scenario.py, simulate.py, check.py   `tokenport simulate` and its self-check
export.py    `tokenport export` to CSV / Parquet;  bench_rankings.py: the 10M benchmark
"""
