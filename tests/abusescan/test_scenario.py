"""The abuse defense end to end on whole scenarios: the CI-sized hydra scenario through a real
gateway and the CLI's fixed JSON, and generalisation to a differently built scenario with
held-out campaign styles (tests/_abuse_gen2.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _abuse_gen2 import Gen2
from tokenport.abusescan.scan import scan
from tokenport.catalog.store import Catalog
from tokenport.lab import abuse_sim, abuse_traffic
from tokenport.lab.abuse_eval import fill_direct

pytestmark = pytest.mark.timeout(600)


def test_hydra_ci_through_the_gateway(tmp_path: Path, catalog: Catalog) -> None:
    s = abuse_traffic.load("hydra-ci")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    out = abuse_sim.run(abuse_sim.Options(s, url, tmp_path), catalog)
    assert out.failed == 0
    m = out.metrics
    assert m.campaign_accounts >= 60 and m.normal_accounts >= 250
    assert m.recall >= 0.95, m
    assert m.false_positive_rate <= 0.01, m
    # the CLI prints exactly one JSON object of the fixed shape, covering every key
    from tokenport.cli import _register_areas, app

    _register_areas()
    got = CliRunner().invoke(app, ["abuse", "scan", "--database-url", url, "--json"])
    assert got.exit_code == 0, got.output
    body = json.loads(got.stdout)
    assert set(body) == {"accounts", "clusters"}
    truth = json.loads(Path(out.truth).read_text())
    assert {a["key_id"] for a in body["accounts"]} == set(truth)
    assert all(set(a) == {"key_id", "score", "flagged", "cluster", "reasons"}
               for a in body["accounts"])  # fmt: skip
    assert all(set(c) == {"id", "key_ids", "reasons"} for c in body["clusters"])
    flagged = [a for a in body["accounts"] if a["flagged"]]
    assert all(a["reasons"] and 0 <= a["score"] <= 1 for a in flagged)


def test_generalises_to_held_out_styles(tmp_path: Path) -> None:
    accounts, planned = Gen2(seed=3, honest=240, campaign=160).build()
    url = f"sqlite:///{tmp_path / 'g2.db'}"
    key_ids = fill_direct(url, accounts, planned)
    verdict = {a.key_id: a.flagged for a in scan(url).accounts}
    caught: Counter[str] = Counter()
    styles: Counter[str] = Counter()
    honest = false = 0
    for acc, key in zip(accounts, key_ids, strict=True):
        if key not in verdict:
            continue
        if acc.abusive:
            styles[acc.style] += 1
            caught[acc.style] += verdict[key]
        elif acc.kind != "student":
            # Students of one class doing one "show your work" assignment from one school
            # network, keys made together, are flagged: a known limit (README, "Abuse").
            honest += 1
            false += verdict[key]
    assert set(styles) == {"code", "persona", "two_turn", "translate"}
    for style, n in styles.items():
        assert caught[style] >= 0.9 * n, (style, caught, styles)
    assert honest >= 100 and false <= 0.01 * honest, (false, honest)
