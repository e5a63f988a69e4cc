"""Run an answer's Python, with the tests its prompt states, in a child process with limits.

The cascade's code verifier (`verify.VERIFIERS["code"]`). What it runs:
1. the answer's code blocks, joined (`checks.code_blocks`); each `print(x)  # Output: y`
   line becomes a check that x prints as y, so an answer's own worked examples are tested;
2. each `assert` line the prompt states (`checks.stated_tests`), after the code.

It reports whether the code parsed, whether it ran without raising, and how many claimed
outputs and stated tests failed. The child is `python -I -S` in an empty temporary
directory with no environment, limited in CPU seconds, address space and file size (set
by the child itself, before the answer's code runs), killed with its process group at the
wall-clock limit, and, where `unshare` works, without a network. These limits bound a
buggy answer; they are not a boundary against code written to escape, so the code verifier
is off unless a pool turns it on.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

from tokenport.routing.auto.checks import code_blocks, stated_tests

TIME_LIMIT_S = 2.0
MEMORY_BYTES = 1 << 30
_MARK = "\x1etokenport-sandbox:"
_CLAIM = re.compile(
    r"^(?P<indent>[ \t]*)print\((?P<expr>.*)\)[ \t]*#[ \t]*"
    r"(?:output|prints?|returns?|result|expected(?: output)?|=>|->)[ \t]*:?[ \t]*(?P<claim>\S.*)$",
    re.I | re.M,
)
_PRELUDE = """\
import json as __json, resource as __res, sys as __sys
for __k, __v in ((__res.RLIMIT_CPU, {cpu}), (__res.RLIMIT_AS, {mem}),
                 (__res.RLIMIT_FSIZE, 1 << 20), (__res.RLIMIT_CORE, 0)):
    try:
        __res.setrlimit(__k, (__v, __v))
    except (ValueError, OSError):
        pass
__r = {{"ran": True, "claims": 0, "claims_wrong": 0, "tests": 0, "tests_failed": 0}}
def __claim(values, text):
    import ast
    __r["claims"] += 1
    t = text.strip()
    ok = " ".join(map(str, values)) == t.strip("\\"'")
    if not ok and len(values) == 1:
        try:
            ok = repr(values[0]) == t or ast.literal_eval(t) == values[0]
        except Exception:
            ok = False
    if not ok:
        __r["claims_wrong"] += 1
__g = {{"__claim": __claim, "__name__": "__main__"}}
try:
    exec(compile({code!r}, "answer", "exec"), __g)
except BaseException:
    __r["ran"] = False
for __t in {tests!r}:
    __r["tests"] += 1
    try:
        exec(__t, __g)
    except BaseException:
        __r["tests_failed"] += 1
__sys.__stdout__.write("\\n" + {mark!r} + __json.dumps(__r) + "\\n")
"""


class CodeResult(msgspec.Struct, frozen=True):
    """What running an answer showed. `has_code` False: nothing to run, the rest is 0."""

    has_code: bool = False
    parses: bool = False
    ran: bool = False
    timed_out: bool = False
    claims: int = 0
    claims_wrong: int = 0
    tests: int = 0
    tests_failed: int = 0


def with_claims_checked(code: str) -> str:
    """`print(x)  # Output: y` -> `__claim((x,), 'y')`, line by line."""

    def rewrite(m: re.Match[str]) -> str:
        line = f"{m.group('indent')}__claim(({m.group('expr')},), {m.group('claim').strip()!r})"
        try:
            ast.parse(line.strip())
        except SyntaxError:
            return m.group(0)
        return line

    return _CLAIM.sub(rewrite, code)


def program(answer: str, prompt: str, time_limit_s: float = TIME_LIMIT_S) -> str | CodeResult:
    """The child's program, or the result already known without running anything."""
    blocks = code_blocks(answer)
    if not blocks:
        return CodeResult()
    code = "\n\n".join(blocks)
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return CodeResult(has_code=True)
    cpu = max(1, int(time_limit_s + 0.999))
    return _PRELUDE.format(
        cpu=cpu,
        mem=MEMORY_BYTES,
        code=with_claims_checked(code),
        tests=stated_tests(prompt),
        mark=_MARK,
    )


def _parse(stdout: bytes, timed_out: bool) -> CodeResult:
    text = stdout.decode("utf-8", "replace")
    at = text.rfind(_MARK)
    if at < 0:  # killed, out of memory, or the answer closed stdout
        return CodeResult(has_code=True, parses=True, timed_out=timed_out)
    try:
        r = json.loads(text[at + len(_MARK) :].strip())
        return CodeResult(
            has_code=True,
            parses=True,
            ran=bool(r["ran"]),
            claims=int(r["claims"]),
            claims_wrong=int(r["claims_wrong"]),
            tests=int(r["tests"]),
            tests_failed=int(r["tests_failed"]),
        )
    except (ValueError, KeyError, TypeError):
        return CodeResult(has_code=True, parses=True)


@functools.cache
def _prefix() -> tuple[str, ...]:
    """`unshare -rn` (a user and network namespace: no network) where this host allows it."""
    tool = shutil.which("unshare")
    if tool is None:
        return ()
    try:
        probe = subprocess.run(
            [tool, "-rn", sys.executable, "-c", "pass"], capture_output=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return (tool, "-rn") if probe.returncode == 0 else ()


def _argv(path: Path) -> list[str]:
    return [*_prefix(), sys.executable, "-I", "-S", str(path)]


def run(answer: str, prompt: str, time_limit_s: float = TIME_LIMIT_S) -> CodeResult:
    """Blocking: for training and evaluation."""
    prog = program(answer, prompt, time_limit_s)
    if isinstance(prog, CodeResult):
        return prog
    with tempfile.TemporaryDirectory(prefix="tokenport-sandbox-") as tmp:
        path = Path(tmp) / "answer.py"
        path.write_text(prog, encoding="utf-8")
        proc = subprocess.Popen(
            _argv(path),
            cwd=tmp,
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=time_limit_s)
            return _parse(out, False)
        except subprocess.TimeoutExpired:
            _kill(proc.pid)
            proc.communicate()
            return CodeResult(has_code=True, parses=True, timed_out=True)


async def arun(answer: str, prompt: str, time_limit_s: float = TIME_LIMIT_S) -> CodeResult:
    """The same without blocking the event loop: for the gateway."""
    prog = program(answer, prompt, time_limit_s)
    if isinstance(prog, CodeResult):
        return prog
    with tempfile.TemporaryDirectory(prefix="tokenport-sandbox-") as tmp:
        path = Path(tmp) / "answer.py"
        path.write_text(prog, encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            *_argv(path),
            cwd=tmp,
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), time_limit_s)
            return _parse(out, False)
        except TimeoutError:
            _kill(proc.pid)
            await proc.wait()
            return CodeResult(has_code=True, parses=True, timed_out=True)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
