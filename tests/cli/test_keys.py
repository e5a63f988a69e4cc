"""`tokenport keys ...` and `tokenport usage` against a real database."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from typer.testing import CliRunner

from tokenport.cli import app
from tokenport.cli.keys import register
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import open_store

register(app)  # `main()` does this for the installed command


def _run(tmp: Path, *args: str, columns: int = 200) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        list(args),
        env={"TOKENPORT_DATA_DIR": str(tmp), "TOKENPORT_CONFIG": "", "COLUMNS": str(columns)},
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
    assert code == 0 and "$0 / $5" in out
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


def _fits(out: str, width: int = 80) -> None:
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert too_wide == [], "\n".join(too_wide)


def test_keys_at_80_columns_show_whole_ids_and_json_matches(tmp_path: Path) -> None:
    for name in ("alice", "a-team-with-a-rather-long-name"):
        code, out = _run(
            tmp_path, "keys", "create", name, "--limit", "12.5", "--rpm", "600", "--tpm",
            "1000000", "--models", "deepseek/*,local/*,openai/gpt-4o-mini", columns=80,
        )  # fmt: skip
        assert code == 0, out
        _fits(out)
    code, out = _run(tmp_path, "keys", "list", "--json")
    assert code == 0, out
    keys = json.loads(out)["data"]
    assert [k["name"] for k in keys] == ["alice", "a-team-with-a-rather-long-name"]
    assert keys[0]["limit"] == 12.5 and keys[0]["rpm"] == 600 and "key" not in keys[0]
    code, out = _run(tmp_path, "keys", "list", columns=80)
    _fits(out)
    for k in keys:  # the README's `top-up` and `revoke` steps need the whole id
        assert k["id"] in out, out
    code, out = _run(tmp_path, "keys", "top-up", keys[1]["id"], "1", "--json", columns=80)
    assert code == 0 and json.loads(out)["data"][0]["limit"] == 13.5
    code, out = _run(tmp_path, "keys", "create", "bob", "--json")
    created = json.loads(out)
    assert created["key"].startswith("tp-") and created["data"]["name"] == "bob"


def test_usage_at_80_columns_and_as_json(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.migrate()
    now = time.time()
    key_id = "key_01KAZ5V3W4X5Y6Z7A8B9C0D1E2"
    store.insert_batch(
        [
            LedgerRecord(
                id=f"r{i}", ts=now - 60, model_requested="m", status="ok", key_id=key_id,
                model_served="meta-llama/llama-3.1-405b-instruct-turbo", provider="together",
                prompt_tokens=123_456, completion_tokens=7_890, cost=1.25,
            )
            for i in range(3)
        ]
    )  # fmt: skip
    store.close()
    code, out = _run(tmp_path, "usage", columns=80)
    assert code == 0, out
    _fits(out)
    assert key_id in out and "3.750000" in out
    code, out = _run(tmp_path, "usage", "--by", "key,model", "--json", columns=80)
    assert code == 0, out
    rows = json.loads(out)["rows"]
    assert rows == [
        {
            "key": key_id, "model": "meta-llama/llama-3.1-405b-instruct-turbo", "requests": 3,
            "errors": 0, "prompt_tokens": 370_368, "completion_tokens": 23_670,
            "cached_tokens": 0, "reasoning_tokens": 0, "cost": 3.75,
        }
    ]  # fmt: skip
