"""The full-screen app on a latin-1 terminal draws ASCII stand-ins (borders, the "▸" marker),
not "\\u2500"-style text that breaks its layout."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from pathlib import Path

from tests.processes import ROOT, clean_env


def _run_in_a_terminal(args: list[str], env: dict[str, str], *, timeout: float = 40.0) -> tuple[int, bytes]:
    """Run ``python -m app.cli ARGS`` on a pseudo-terminal; press q once its first frame is drawn."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: nothing here may return into pytest
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "app.cli", *args], env)
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + timeout
    drawn_at: float | None = None
    quit_sent = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the child is gone
                    break
                if not data:
                    break
                out += data
                if drawn_at is None and b"Meta" in out:
                    drawn_at = time.monotonic()
            if drawn_at is not None and not quit_sent and time.monotonic() - drawn_at > 1.0:
                os.write(fd, b"q")
                quit_sent = True
        else:
            os.kill(pid, 9)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


def test_the_status_panel_on_a_latin1_terminal_is_drawn_in_ascii(tmp_path: Path) -> None:
    env = clean_env(
        {"PYTHONIOENCODING": "latin-1", "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    )
    env.pop("NO_COLOR", None)
    code, out = _run_in_a_terminal(["--agent-dir", str(tmp_path / "agent")], env)
    assert code == 0, out[-2000:]
    assert b"Traceback" not in out
    assert b"\\u25" not in out and b"\\u2" not in out  # no escaped characters drawn as text
    assert b"Anthropic (Claude Pro/Max)" in out
    # The text the screen shows, without its colours and cursor moves.
    shown = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", out.decode("latin-1"))
    assert "> " in shown  # the selected provider's marker
    assert "+-----" in shown and "-----+" in shown and "|" in shown  # the details box, in ASCII
