"""Run a Python module as a child process that dies with the gateway, however it ends.

    python -m tokenport.providers.childguard PARENT_PID MODULE [ARGS...]

asks the kernel (Linux `prctl(PR_SET_PDEATHSIG, SIGKILL)`) to kill this process when the
thread that started it exits, then runs MODULE as `__main__` with ARGS. A SIGKILLed or
OOM-killed gateway runs no cleanup of its own, so only the kernel can take the llama.cpp
child down with it; without this the child lived on as an orphan holding ~250 MB.

This runs in the child rather than as a `preexec_fn`: Python documents preexec_fn as unsafe
once the parent has threads, and the supervisor restarts the model from its watcher thread.
The death signal survives the `runpy` hand-off (no exec at all) and would survive an exec.
Where there is no prctl (macOS), a daemon thread polls for re-parenting instead.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_POLL_S = 1.0


def die_with_parent(parent: int) -> None:
    """Arrange to be killed when `parent` goes; exit at once if it has gone already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    else:
        threading.Thread(target=_poll_parent, args=(parent,), daemon=True).start()
    # The parent may have died between fork and prctl: the signal would never come.
    if os.getppid() != parent:
        os._exit(1)


def _poll_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    os._exit(1)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m tokenport.providers.childguard PARENT_PID MODULE [ARGS...]")
    parent, module, args = int(argv[0]), argv[1], argv[2:]
    die_with_parent(parent)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
