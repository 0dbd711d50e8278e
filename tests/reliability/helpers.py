"""What the reliability tests share: the other providers' entries, stores written and read as pi does."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
