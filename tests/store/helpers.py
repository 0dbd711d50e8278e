"""Stores written by hand, byte for byte, for the tests of tests/store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


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
