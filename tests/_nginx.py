"""Run Debian's nginx, unprivileged paths in a temp dir, with deploy/nginx/tokenport.conf
itself: only its three replica addresses, its listen port and its log path are swapped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from _helpers import missing, wait_http

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx" / "tokenport.conf"


def site_config(ports: list[int], listen: int, log: Path) -> str:
    text = SITE.read_text()
    swaps = {
        "listen 8080;": f"listen 127.0.0.1:{listen};",
        "access_log /var/log/nginx/tokenport.access.log tokenport;": (
            f"access_log {log} tokenport;"
        ),
        **{f"server 127.0.0.1:{8001 + i} ": f"server 127.0.0.1:{p} " for i, p in enumerate(ports)},
    }
    for old, new in swaps.items():
        assert text.count(old) == 1, f"deploy/nginx/tokenport.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def start_nginx(tmp: Path, ports: list[int], listen: int) -> tuple[subprocess.Popen[bytes], Path]:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        missing("Debian's nginx is not installed (apt-get install nginx; .ci/run does)")
    assert binary is not None
    home = tmp / "nginx"
    home.mkdir()
    log = home / "access.log"
    (home / "tokenport.conf").write_text(site_config(ports, listen, log))
    temp = {n: home / n for n in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main = [
        "worker_processes 1;",
        "daemon off;",
        f"pid {home / 'nginx.pid'};",
        f"error_log {home / 'error.log'} warn;",
        *(["user root root;"] if os.geteuid() == 0 else []),
        "events { worker_connections 1024; }",
        "http {",
        f"  client_body_temp_path {temp['body']};",
        f"  proxy_temp_path {temp['proxy']};",
        f"  fastcgi_temp_path {temp['fastcgi']};",
        f"  uwsgi_temp_path {temp['uwsgi']};",
        f"  scgi_temp_path {temp['scgi']};",
        f"  include {home / 'tokenport.conf'};",
        "}",
    ]
    conf = home / "nginx.conf"
    conf.write_text("\n".join(main) + "\n")
    check = subprocess.run([binary, "-t", "-p", str(home), "-c", str(conf)], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    out = (home / "stderr.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-p", str(home), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
    )
    return proc, log


def wait_nginx(proc: subprocess.Popen[bytes], listen: int, tmp: Path) -> None:
    # Any answer will do (the replicas may not be up yet: nginx then answers 502).
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{listen}/metrics", timeout=2).close()
        except urllib.error.HTTPError:
            return
        except OSError:
            assert proc.poll() is None, (tmp / "nginx" / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        else:
            return


__all__ = ["start_nginx", "wait_http", "wait_nginx"]
