"""The press claims checked against the cost model: offline work, not part of the gateway.

    claim.py          press claims as data, and the verdict rule           (data/claims.toml)
    checks.py         one checker per claim kind, and `check_claims`; checks_power.py (green
                      power, PUE, training energy) and checks_market.py (capability vs cost,
                      OpenRouter share and peak) hold the newer kinds
    sensitivity.py    which input would flip each verdict, and where
    deepseek.py       DeepSeek's 1 March 2025 cost disclosure, rebuilt    (data/deepseek_*.toml)
    prices.py         the shipped list prices                              (data/claims.toml)
    page.py           the HTML / JSON report; charts.py: its Chart.js configs
    terminal.py       the same as terminal tables

`tokenport economics report` and `tokenport costs --reproduce` run them; the gateway never
imports this package. Every source is a dated data file in `data/`; nothing is fetched.
"""
