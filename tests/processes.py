"""pi-tui and the test workers as real processes: a clean environment, one run, many at once."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without anything that would pick another store or server."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PI_TUI_", "ANTHROPIC_", "PI_CODING_AGENT_DIR", "GITHUB_", "COPILOT_"))
    }
    # pi-tui's state file stays where the test put it (conftest's tmp_path), never in the home.
    if os.environ.get("PI_TUI_STATE_DIR"):
        env["PI_TUI_STATE_DIR"] = os.environ["PI_TUI_STATE_DIR"]
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run_python(
    *argv: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` from the repository root, stdin closed, output captured; ``env`` is added
    to a clean environment."""
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m app.cli ARGS`` as a real process (see :func:`run_python`)."""
    return run_python("-m", "app.cli", *args, env=env, timeout=timeout)


def start_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m app.cli ARGS`` started and left running, output piped, for a test to signal."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )


# Runs app.cli.main behind a starting gate. The modules a refresh needs are imported before the
# gate, so import time does not spread the processes out: they all reach the store at once.
_GATED_MAIN = """\
import os, sys
ready, go = int(sys.argv[1]), int(sys.argv[2])
import asyncio, httpx
import app.service
from app.cli import main
os.write(ready, b"."); os.close(ready)
os.read(go, 1); os.close(go)
sys.exit(main(sys.argv[3:]))
"""


def start_together(
    commands: list[list[str]], env: Mapping[str, str], *, ready_timeout: float = 60
) -> list[subprocess.Popen[str]]:
    """Start one ``pi-tui`` process per argument list and release them all at the same instant.

    Each child reports "ready" on one pipe and then blocks reading another; closing that pipe's
    write end wakes every child at once.
    """
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    procs: list[subprocess.Popen[str]] = []
    try:
        for args in commands:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _GATED_MAIN, str(ready_w), str(go_r), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=clean_env(env),
                    cwd=ROOT,
                    pass_fds=(ready_w, go_r),
                )
            )
        os.close(ready_w)
        ready_w = -1
        seen, deadline = 0, time.monotonic() + ready_timeout
        while seen < len(procs):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([ready_r], [], [], left)[0]:
                raise TimeoutError(f"only {seen} of {len(procs)} processes got ready")
            chunk = os.read(ready_r, 4096)
            if not chunk:
                raise RuntimeError(f"a process died before the gate ({seen} of {len(procs)} ready)")
            seen += len(chunk)
    except BaseException:
        os.close(go_w)
        for proc in procs:
            proc.kill()
            proc.communicate()
        raise
    finally:
        for fd in (ready_r, ready_w, go_r):
            if fd >= 0:
                os.close(fd)
    os.close(go_w)  # the gate opens
    return procs
