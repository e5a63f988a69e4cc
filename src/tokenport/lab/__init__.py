"""The lab: what drives and fakes traffic rather than serves it.

    fake.py                 fake OpenAI + Anthropic upstreams (tests, bench, simulate)
    fake_script.py          what a fake is told to do (Script) and read (Turn)
    fake_wire.py            its bodies by protocol (fake_openai.py, fake_anthropic.py)
    scenario.py, scenarios/ calibrated traffic scenarios (feb-2026)
    simulate.py, check.py   drive a scenario through a real gateway; check the rankings
    synth.py                synthetic ledgers for benchmarks
    bench_rankings.py       the rankings benchmark
    cli.py                  `tokenport simulate`
    claims/                 the press claims checked against the cost model; DeepSeek's
                            disclosure reproduced (`economics report`, `costs --reproduce`)

It sits above everything: it may import the runtime packages, and no runtime package
imports it.
"""
