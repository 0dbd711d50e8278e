"""What the reliability tests share: a clean environment, seeded stores, the CLI as a process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOUR_MS = 3_600_000

# Entries pi-tui does not know: every write must leave them exactly as they were.
OTHERS: dict[str, Any] = {
    "google-gemini-cli": {
        "type": "oauth",
        "refresh": "gemini-refresh-kept",
        "access": "gemini-access-kept",
        "expires": 1_700_000_000_000,
        "projectId": "p-1",
        "nested": {"z": 1, "a": [1.5, None, True]},
    },
    "x-unknown-tool": ["kept", {"b": 2, "a": 1}],
    "zz-settings": {"note": "unicode ✓ kept", "n": 0},
}


def now_ms() -> int:
    return int(time.time() * 1000)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without anything that would pick another store or server."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PI_TUI_", "ANTHROPIC_", "PI_CODING_AGENT_DIR", "GITHUB_", "COPILOT_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def write_doc(path: Path, doc: Mapping[str, Any]) -> bytes:
    """Write ``doc`` as pi would (2-space JSON, 0600, directory 0700); return the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(doc, indent=2) + "\n").encode()
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return data


def read_doc(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_bytes())
    assert isinstance(doc, dict)
    return doc


def file_mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m app.cli ARGS`` as a real process, stdin closed, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# Runs app.cli.main behind a starting gate. The modules a refresh needs are imported before the
# gate, so import time does not spread the processes out: they all reach the store at once.
_GATED_MAIN = """\
import os, sys
ready, go = int(sys.argv[1]), int(sys.argv[2])
import asyncio, httpx
import app.oauth.service
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
    import select

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
