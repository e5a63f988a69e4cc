"""Peer gateways, each pinned to an exact version in its own virtual environment.

    bench/.venvs/litellm/   litellm[proxy]==LITELLM_VERSION (git-ignored)

Installed by `python bench/run.py` on first use with pip from the package registry. Some
releases of litellm were compromised; the installer refuses them whatever is asked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENVS = BENCH / ".venvs"
LITELLM_VERSION = "1.81.16"
# Compromised releases: never install these.
FORBIDDEN = frozenset({"1.82.7", "1.82.8", "1.107.0"})
PRISMA_VERSION = "0.11.0"  # the version litellm's proxy extras pin


class PeerUnavailable(Exception):
    pass


def litellm_venv() -> Path:
    return VENVS / "litellm"


def litellm_bin() -> Path:
    return litellm_venv() / "bin" / "litellm"


def _python() -> Path:
    return litellm_venv() / "bin" / "python"


def installed_version(package: str) -> str | None:
    if not _python().exists():
        return None
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    out = subprocess.run([str(_python()), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_litellm(log: Path) -> str:
    """Install litellm[proxy]==LITELLM_VERSION unless that exact version is there already."""
    if LITELLM_VERSION in FORBIDDEN:
        raise PeerUnavailable(f"litellm {LITELLM_VERSION} is a compromised release")
    have = installed_version("litellm")
    if have in FORBIDDEN:
        raise PeerUnavailable(f"{litellm_venv()} holds compromised litellm {have}; delete it")
    if have == LITELLM_VERSION and litellm_bin().exists():
        return have
    if not _python().exists():
        venv.create(litellm_venv(), with_pip=True)
    cmd = [str(_python()), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    have = installed_version("litellm")
    if done.returncode != 0 or have != LITELLM_VERSION:
        raise PeerUnavailable(f"pip install litellm[proxy]=={LITELLM_VERSION} failed; see {log}")
    return have


def litellm_env() -> dict[str, str]:
    return {
        # Use the cost map in the wheel instead of fetching it (no internet here anyway).
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "PATH": f"{litellm_venv() / 'bin'}:{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(litellm_venv()),
    }


_PRISMA_FAILED = "prisma-generate-failed.txt"


def require_prisma() -> None:
    """LiteLLM's spend logs need prisma-client-py and a generated client with its engines.

    `prisma generate` downloads the Prisma CLI from the npm registry and then the query
    engine binaries from Prisma's own server; where that cannot be reached this raises
    NotMeasurable with the exact error. The failure is remembered in the venv (delete
    `bench/.venvs/litellm/prisma-generate-failed.txt` to try again).
    """
    from bench.procs import NotMeasurable

    marker = litellm_venv() / _PRISMA_FAILED
    if marker.exists():
        raise NotMeasurable(marker.read_text().strip())
    if _generated():
        return
    if installed_version("prisma") != PRISMA_VERSION:
        pip = [str(_python()), "-m", "pip", "install", "-q", f"prisma=={PRISMA_VERSION}"]
        subprocess.run(pip, capture_output=True, timeout=600)
    schema_dir = _site_packages() / "litellm" / "proxy"
    out = subprocess.run(
        [str(litellm_venv() / "bin" / "prisma"), "generate"],
        cwd=schema_dir,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **litellm_env()},
    )
    if out.returncode == 0 and _generated():
        return
    lines = [ln for ln in (out.stdout + out.stderr).splitlines() if "rror" in ln]
    reason = (
        f"`prisma generate` (prisma=={PRISMA_VERSION}, needed for LiteLLM's PostgreSQL spend "
        f"logs) failed with exit {out.returncode}: "
        + (lines[-1].strip() if lines else (out.stdout + out.stderr).strip()[-400:])
    )
    marker.write_text(reason + "\n")
    raise NotMeasurable(reason)


def _site_packages() -> Path:
    v = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return litellm_venv() / "lib" / v / "site-packages"


def _generated() -> bool:
    # prisma-client-py writes its generated client into the installed package.
    return (_site_packages() / "prisma" / "client.py").exists()
