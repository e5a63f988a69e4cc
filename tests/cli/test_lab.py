"""`tokenport simulate` says how to see its scratch ledger on the dashboard, and doing what
it says works."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from _helpers import free_port, http_json, wait_http


def test_simulate_prints_a_working_dashboard_command(tmp_path: Path) -> None:
    env = {**os.environ, "TOKENPORT_DATA_DIR": str(tmp_path), "TOKENPORT_CONFIG": ""}
    env.pop("TOKENPORT_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "tokenport", "simulate", "--scenario", "feb-2026",
         "--requests", "400", "--users", "5"],
        env={**env, "COLUMNS": "300"}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "Traceback" not in out.stderr, out.stderr
    found = re.search(r"On the dashboard: (tokenport serve .*)\n\s*then open (\S+)", out.stdout)
    assert found, out.stdout
    port = free_port()
    args = shlex.split(found.group(1).replace("--port 8001", f"--port {port}"))
    url = found.group(2).replace(":8001", f":{port}")
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=fh, stderr=fh)
    try:
        wait_http(url, 60, proc, log)
        base = url.rsplit("/dashboard", 1)[0]
        status, body = http_json("GET", base + "/api/v1/rankings?by=model")
        assert status == 200 and body["empty"] is False
        assert body["sections"]["model"]["rows"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
