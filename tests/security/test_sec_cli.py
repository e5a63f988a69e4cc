"""`tokenport keys ...` and `tokenport usage` against a real database."""

from __future__ import annotations

import re
import time
from pathlib import Path

from typer.testing import CliRunner

from tokenport.cli import app
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import open_store
from tokenport.security.cli import register

register(app)  # `main()` does this for the installed command


def _run(tmp: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        list(args),
        env={"TOKENPORT_DATA_DIR": str(tmp), "TOKENPORT_CONFIG": "", "COLUMNS": "200"},
    )
    return result.exit_code, result.output


def test_keys_lifecycle(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "keys", "list")
    assert code == 0 and "No keys yet" in out
    code, out = _run(
        tmp_path,
        "keys",
        "create",
        "alice",
        "--limit",
        "2",
        "--rpm",
        "30",
        "--models",
        "deepseek/*,local/*",
    )
    assert code == 0, out
    secret = re.search(r"shown once, store it now\): (tp-[A-Za-z0-9_\-]+)", out)
    key_id = re.search(r"key_[0-9A-Z]+", out)
    assert secret and key_id
    code, out = _run(tmp_path, "keys", "list")
    assert "alice" in out and secret.group(1) not in out  # the secret is never shown again
    code, out = _run(tmp_path, "keys", "top-up", key_id.group(0), "3")
    assert code == 0 and "$5.000000" in out
    code, out = _run(tmp_path, "keys", "revoke", key_id.group(0))
    assert code == 0 and "revoked" in out
    code, out = _run(tmp_path, "keys", "revoke", "key_nope")
    assert code == 1 and "No key with id" in out


def test_usage_report_from_rollups(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.migrate()
    now = time.time()
    store.insert_batch(
        [
            LedgerRecord(
                id=f"r{i}",
                ts=now - 60,
                model_requested="m",
                status="ok",
                key_id="key_A",
                model_served="deepseek/deepseek-chat",
                provider="deepseek",
                prompt_tokens=100,
                completion_tokens=10,
                cost=0.5,
            )
            for i in range(3)
        ]
    )
    store.close()
    code, out = _run(tmp_path, "usage", "--by", "key,model")
    assert code == 0, out
    assert "key_A" in out and "deepseek/deepseek-chat" in out and "1.500000" in out
    code, out = _run(tmp_path, "usage", "--by", "planet")
    assert code == 2 and "Allowed" in out
