"""Where pi-tui keeps things: pi's agent directory, the log directory, and how a path is shown.

Resolution for the agent directory: ``--agent-dir`` (passed in) → ``$PI_CODING_AGENT_DIR`` →
``~/.pi/agent``. Every function takes the environment so tests never patch ``os.environ``.
"""

from __future__ import annotations

import os
import stat
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


def others_can_write(directory: str | os.PathLike[str], what: str) -> str | None:
    """The sentence refusing to ``what`` in ``directory`` when other users can change it, else None.

    Someone who can write there can plant a link where pi-tui is about to create a file, or
    swap a file pi-tui made; group-writable counts when the group is not the user's own private
    group. None too when the directory does not exist (it is then made 0700).
    """
    try:
        st = os.stat(directory)
    except OSError:
        return None
    if st.st_uid not in (os.geteuid(), 0):
        return (
            f"{display_path(directory)} belongs to another user (uid {st.st_uid}), so pi-tui will "
            f"not {what} there. Use a directory of your own."
        )
    mode = stat.S_IMODE(st.st_mode)
    if not mode & stat.S_IWOTH and not (mode & stat.S_IWGRP and not _own_group(st.st_gid)):
        return None
    import shlex  # only this sentence needs it

    who = "any user" if mode & stat.S_IWOTH else "other users in its group"
    return (
        f"{display_path(directory)} can be changed by {who} (mode {mode:04o}), so pi-tui will not "
        f"{what} there. Run: chmod go-w {shlex.quote(os.fspath(directory))}"
    )


def _own_group(gid: int) -> bool:
    """True for the user's private group (named after the user, no other members)."""
    import grp  # only this rare case needs them: `pi-tui status` and `token` load this module
    import pwd

    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    return group.gr_name == user and set(group.gr_mem) <= {user}


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
