"""The press claims checked against the cost model: offline work, not part of the gateway.

    claim.py   press claims as data, and the verdict rule               (data/claims.toml)
    checks.py  one checker per claim kind; `check_claims`
    page.py    the HTML / JSON claim report; charts.py: its Chart.js configs

`tokenport economics report` runs them; the gateway never imports this package.
"""
