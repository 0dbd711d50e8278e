"""The sentence after opening a link says what is known: opened, tried, or failed.

A browser command can start and then fail (a stale DISPLAY inside tmux, an xdg-open with no
handler): pi-tui must not claim it opened the link. Real processes play the browser here.
"""

from __future__ import annotations

import shlex
import time
import webbrowser
from pathlib import Path

import pytest

from app.opener import SETTLE_S, open_url
from tests.fakes.engine import FakeProviders
from tests.processes import run_cli

URL = "https://example.com/authorize?state=abc&code_challenge=xyz"


def env_with(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PI_TUI_STATE_DIR": str(tmp_path / "state"), **extra}


def test_a_browser_command_that_fails_is_said_in_no_tui(fake: FakeProviders, tmp_path: Path) -> None:
    env = fake.env() | {"BROWSER": "false", "PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    done = run_cli(
        "login",
        "anthropic",
        "--no-tui",
        "--method",
        "copy_code",
        "--agent-dir",
        str(tmp_path / "agent"),
        env=env,
    )
    assert "Opened the link" not in done.stderr
    assert "$BROWSER failed to open the link; open the link yourself." in done.stderr.splitlines()


def test_a_browser_still_running_is_tried_not_opened(tmp_path: Path) -> None:
    browser = shlex.join(["sh", "-c", "sleep 3", "browser"])  # gets the page's address as $1
    began = time.monotonic()
    opened = open_url(URL, env=env_with(tmp_path, BROWSER=browser), wsl=False)
    assert time.monotonic() - began < SETTLE_S + 1.5  # it does not wait for the browser to end
    assert opened.message == (
        "Tried to open the link in your browser ($BROWSER); if nothing opened, open it yourself."
    )


def test_a_browser_that_exits_successfully_opened_the_link(tmp_path: Path) -> None:
    opened = open_url(URL, env=env_with(tmp_path, BROWSER="true"), wsl=False)
    assert opened.ok and opened.message == "Opened the link in your browser ($BROWSER)."


def test_the_next_browser_entry_is_tried_after_one_fails(tmp_path: Path) -> None:
    opened = open_url(URL, env=env_with(tmp_path, BROWSER="false:true"), wsl=False)
    assert opened.ok and opened.message == "Opened the link in your browser ($BROWSER)."


def test_the_systems_opener_failing_is_not_called_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What xdg-open does with a stale DISPLAY: it starts, then exits with an error.
    failing = webbrowser.BackgroundBrowser(["sh", "-c", "exit 3", "xdg-open", "%s"])
    monkeypatch.setattr(webbrowser, "get", lambda using=None: failing)
    opened = open_url(URL, env=env_with(tmp_path, DISPLAY=":99"), platform="linux", wsl=False)
    assert not opened.ok
    assert opened.message == "No graphical browser opened the link; open the link yourself."
    assert not list((tmp_path / "state" / "links").iterdir())  # its page is gone with it
