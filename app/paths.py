"""Where pi-tui keeps things: pi's agent directory, the log directory, and how a path is shown.

Resolution for the agent directory: ``--agent-dir`` (passed in) → ``$PI_CODING_AGENT_DIR`` →
``~/.pi/agent``. Every function takes the environment so tests never patch ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

LOCK_SUFFIX = ".lock"


def agent_dir(override: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Return pi's agent directory (not created here)."""
    env = os.environ if env is None else env
    raw = os.fspath(override) if override else env.get("PI_CODING_AGENT_DIR") or "~/.pi/agent"
    return Path(os.path.expanduser(raw))


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a user reads it: ``~/…`` under the home directory (``$HOME``), else unchanged."""
    text = os.fspath(path)
    home = os.path.expanduser("~").rstrip(os.sep)
    if home and home != "~" and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


def log_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return (and create) pi-tui's log directory; ``$PI_TUI_LOG_DIR`` wins for tests."""
    env = os.environ if env is None else env
    if env.get("PI_TUI_LOG_DIR"):
        path = Path(os.path.expanduser(env["PI_TUI_LOG_DIR"]))
    else:
        import platformdirs  # only the app logs; status and token never need it

        path = Path(platformdirs.user_log_dir("pi-tui", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
