"""The one management path (`security/manage.py`): the CLI's `keys create/edit/delete`
reach it as the gateway's admin, and every change is audited with its before and after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenport.cli import app
from tokenport.cli.keys import register
from tokenport.config import load_settings
from tokenport.security.keystore import KeyStore
from tokenport.security.manage import Manager
from tokenport.security.principal import ADMIN

register(app)


def _run(tmp: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, list(args), env={"TOKENPORT_DATA_DIR": str(tmp), "TOKENPORT_CONFIG": ""}
    )
    return result.exit_code, result.output


def test_the_cli_edits_keys_through_the_audited_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _run(
        tmp_path, "keys", "create", "app", "--limit", "5", "--limit-reset", "weekly", "--json"
    )
    assert code == 0, out
    key = json.loads(out)["data"]
    assert (key["limit_reset"], key["workspace_id"], key["scope"]) == (
        "weekly",
        "default",
        "inference",
    )
    code, out = _run(tmp_path, "keys", "edit", key["id"], "--disable", "--limit", "7", "--json")
    assert code == 0, out
    assert json.loads(out)["data"][0]["disabled"] is True
    code, out = _run(tmp_path, "keys", "edit", key["id"], "--limit-reset", "hourly")
    assert code == 2 and "daily|weekly|monthly" in out
    code, out = _run(tmp_path, "keys", "delete", key["id"])
    assert code == 0, out

    monkeypatch.setenv("TOKENPORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOKENPORT_CONFIG", "")
    keys = KeyStore(load_settings(None).ledger_url())  # the database the CLI wrote
    try:
        manager = Manager(keys)
        entries = manager.audit(ADMIN)
        assert [e.action for e in reversed(entries)] == ["key.create", "key.update", "key.delete"]
        assert {e.actor for e in entries} == {"cli"}
        update = entries[1]
        assert update.before["disabled"] is False and update.after["disabled"] is True
        assert manager.budgets.all_budgets() == []  # the key's weekly limit went with it
        assert manager.list_keys(ADMIN) == []
    finally:
        keys.close()
