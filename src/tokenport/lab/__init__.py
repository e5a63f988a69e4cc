"""The lab: what drives and fakes traffic rather than serves it.

    fake.py, fake_wire.py   fake OpenAI + Anthropic upstreams (tests, bench, simulate)
    scenario.py, scenarios/ calibrated traffic scenarios (feb-2026)
    simulate.py, check.py   drive a scenario through a real gateway; check the rankings
    synth.py                synthetic ledgers for benchmarks
    bench_rankings.py       the rankings benchmark
    cli.py                  `tokenport simulate`

It sits above everything: it may import the runtime packages, and no runtime package
imports it.
"""
