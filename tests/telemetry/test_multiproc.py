"""A real Prometheus server (Debian's `prometheus`) scrapes `tokenport serve --workers 2`
with the admin key, and a PromQL query counts exactly the requests that were sent, whichever
worker served each one and whichever answered the scrape; the separate metrics port, served
by the parent process, says the same without a key."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from _helpers import free_port, http_json, http_raw, missing, serve, wait_http
from tokenport.lab.fake import FakeUpstream

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]  # starts processes
ADMIN = "admin-secret-prometheus-0123456789"
N = 24


def _config(tmp: Path, fake: FakeUpstream, extra: str = "") -> Path:
    cfg = tmp / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp}"\n{extra}[local]\nenabled = false\n'
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    return cfg


def _load(base: str) -> None:
    """N chat requests on fresh connections from 8 threads: both workers accept some."""

    def one(i: int) -> int:
        body = {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": f"q{i}"}]}
        return http_json("POST", base + "/v1/chat/completions", body)[0]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(N))) == [200] * N


def _per_worker_requests(tmp: Path) -> list[float]:
    """What each worker's own counter file holds (the files the scrape adds up)."""
    (folder,) = [d for d in (tmp / "metrics").iterdir() if d.is_dir()]
    out = []
    for f in sorted(folder.glob("counter_*.db")):
        values = MmapedDict.read_all_values_from_file(str(f))  # type: ignore[no-untyped-call]
        out.append(sum(v for key, v, *_ in values if '"tokenport_requests_total"' in key))
    return out


def _prometheus_query(base: str, query: str) -> list[Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_prometheus_scrapes_every_worker_with_the_admin_key(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        missing("Debian's prometheus is not installed (apt-get install prometheus; .ci/run does)")
        return
    port = free_port()
    gw = serve(
        _config(tmp_path, fake),
        port,
        tmp_path / "gw.log",
        {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN},
        "--workers",
        "2",
    )
    prom_port = free_port()
    prom_cfg = tmp_path / "prometheus.yml"
    prom_cfg.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: tokenport\n"
        f"    authorization:\n      credentials: {ADMIN}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    prom_log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={prom_cfg}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    pbase = f"http://127.0.0.1:{prom_port}"
    try:
        wait_http(pbase + "/-/ready", 60, prom, tmp_path / "prometheus.log")
        _load(f"http://127.0.0.1:{port}")
        time.sleep(1.5)  # each worker hands its counts on every refresh_s (1 s)
        per_worker = _per_worker_requests(tmp_path)
        assert len(per_worker) == 2 and sum(per_worker) == N
        assert all(v > 0 for v in per_worker), per_worker  # both workers served some
        query = 'sum(tokenport_requests_total{door="chat",status="200"})'
        deadline = time.monotonic() + 30
        value = None
        while value != N:
            assert time.monotonic() < deadline, f"PromQL said {value}, not {N}"
            time.sleep(0.5)
            result = _prometheus_query(pbase, query)
            value = round(float(result[0]["value"][1])) if result else None
        (up,) = _prometheus_query(pbase, 'up{job="tokenport"}')
        assert up["value"][1] == "1"  # scraped with the key: no 401
        tokens = _prometheus_query(pbase, 'sum(tokenport_tokens_total{type="completion"})')
        assert float(tokens[0]["value"][1]) > 0
        hist = _prometheus_query(pbase, "sum(tokenport_request_duration_seconds_count)")
        assert round(float(hist[0]["value"][1])) == N
    finally:
        prom.send_signal(signal.SIGTERM)
        prom.wait(timeout=30)
        gw.send_signal(signal.SIGTERM)
        gw.wait(timeout=30)


def test_the_separate_port_adds_up_every_worker_without_a_key(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    mport = free_port()
    port = free_port()
    cfg = _config(tmp_path, fake, f"[metrics]\nport = {mport}\n")
    gw = serve(cfg, port, tmp_path / "gw.log", dict(os.environ), "--workers", "2")
    try:
        _load(f"http://127.0.0.1:{port}")
        time.sleep(1.5)  # each worker hands its counts on every refresh_s (1 s)
        assert http_raw("GET", f"http://127.0.0.1:{port}/metrics")[0] == 404
        status, _, body = http_raw("GET", f"http://127.0.0.1:{mport}/metrics")
        assert status == 200
        samples = [
            s
            for fam in text_string_to_metric_families(body.decode())
            for s in fam.samples
            if s.name == "tokenport_requests_total"
        ]
        assert sum(s.value for s in samples) == N
        gauges = [
            s
            for fam in text_string_to_metric_families(body.decode())
            for s in fam.samples
            if s.name == "tokenport_ledger_backlog"
        ]
        assert gauges  # live gauges of both workers, summed
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait(timeout=30)
    # A clean stop leaves no live gauges of its workers behind.
    folder = tmp_path / "metrics"
    assert not list(folder.glob("*/gauge_live*"))
