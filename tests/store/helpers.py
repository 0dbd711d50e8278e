"""Stores written by hand, byte for byte, for the tests of tests/store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.processes import ROOT, clean_env


def now_ms() -> int:
    return int(time.time() * 1000)


def agent_dir(tmp_path: Path) -> Path:
    """A private agent directory under the test's tmp_path."""
    path = tmp_path / "agent"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> Path:
    """``text`` as ``path`` (0600), exactly as given."""
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def due_login(tokens: dict[str, str]) -> dict[str, Any]:
    """An OAuth entry whose access token is due for a refresh."""
    return {
        "type": "oauth",
        "refresh": tokens["refresh"],
        "access": tokens["access"],
        "expires": now_ms() - 1,
    }


def entry_text(name: str, entry: dict[str, Any]) -> str:
    """``"name": {...}`` as a member of a top-level object."""
    return f"{json.dumps(name)}: {json.dumps(entry)}"


def plain_login(agent: Path, fake: Any, provider: str, logs: Path | None = None) -> subprocess.Popen[str]:
    """``pi-tui login PROVIDER --no-tui`` against the fake, its code to come on stdin."""
    env = fake.env() | {
        "PI_TUI_CALLBACK_PORT": "off",
        "BROWSER": "true",
        "PI_TUI_LOG_DIR": str(logs or agent.parent / "logs"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "login", provider, "--no-tui", "--agent-dir", str(agent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )


def log_in_to_anthropic(agent: Path, fake: Any, logs: Path | None = None) -> tuple[int, str]:
    """Log in to the fake Anthropic with ``login anthropic --no-tui``: its exit code and stderr."""
    proc = plain_login(agent, fake, "anthropic", logs)
    assert proc.stderr is not None
    seen = []
    while not (line := proc.stderr.readline()).startswith("http"):
        if not line:
            proc.kill()
            _, rest = proc.communicate()
            return proc.returncode, "".join(seen) + rest
        seen.append(line)
    code, state = fake.anthropic.authorize(line.strip())
    _out, err = proc.communicate(f"{code}#{state}\n", timeout=60)
    return proc.returncode, "".join(seen) + line + err
