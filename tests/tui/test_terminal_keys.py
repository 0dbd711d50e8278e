"""In a real terminal (tmux): keys typed ahead in one burst, and Ctrl-C on every screen.

``send-keys`` with several keys writes them to the terminal at once, as a slow SSH link
delivers them: the app reads them in one go, before the screens they lead to exist.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.errors import LoginCancelled
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.reliability.helpers import now_ms
from tests.reliability.test_terminal_e2e import HOME_TEXT, PI_TUI, Terminal, terminal
from tests.tui.helpers import HOUR_MS, seed_fake_anthropic

__all__ = ["terminal"]


def start(
    term: Terminal,
    fake: FakeProviders,
    tmp_path: Path,
    *args: str,
    wait: str = HOME_TEXT,
    env: dict[str, str] | None = None,
) -> Path:
    """Run ``pi-tui ARGS`` over a store in tmp_path (``env`` added); returns the agent directory."""
    agent = tmp_path / "agent"
    env = (
        fake.env()
        | {
            "PI_TUI_CALLBACK_PORT": "off",
            "PI_TUI_LOG_DIR": str(tmp_path / "logs"),
            "PI_TUI_STATE_DIR": str(tmp_path / "state"),
            "BROWSER": "true",
            "TERM": "xterm-256color",
            "DISPLAY": "",  # no system clipboard: copying falls back to OSC 52
            "WAYLAND_DISPLAY": "",
        }
        | (env or {})
    )
    term.start([str(PI_TUI), "--agent-dir", str(agent), *args], env)
    term.wait_for(wait)
    return agent


def burst(term: Terminal, *keys: str) -> None:
    """All of ``keys`` in one write to the terminal."""
    term.tmux("send-keys", "-t", "pi", *keys)


def assert_clean(term: Terminal) -> None:
    """No screen showed a traceback or Textual's own error."""
    for screen in term.captures:
        assert "Traceback" not in screen and "ScreenStackError" not in screen, screen


def test_login_key_and_three_enters_in_one_burst_do_not_crash(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    start(terminal, fake, tmp_path)
    burst(terminal, "l", "Enter", "Enter", "Enter")
    terminal.wait_for("Select provider to login:")
    terminal.keys("Enter")  # typed after the screen appeared: it chooses
    terminal.wait_for("How do you want to log in")
    terminal.keys("Enter")
    terminal.wait_for("paste it below")
    screen = terminal.screen()
    assert "EXITED" not in screen
    terminal.keys("C-c")
    terminal.wait_for("EXITED 0")
    assert_clean(terminal)


def test_enters_typed_ahead_keep_the_login_and_the_logout_confirmation_open(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    seed_fake_anthropic(CredentialStore(tmp_path / "agent" / "oauth.json"), expires=now_ms() + 2 * HOUR_MS)
    agent = start(terminal, fake, tmp_path, wait="ada@example.com")
    burst(terminal, "o", "Enter", "Enter")
    terminal.wait_for("Log out of Anthropic (Claude Pro/Max)?")
    time.sleep(0.5)
    assert "Log out of Anthropic" in terminal.screen()  # still asking
    terminal.keys("n")
    terminal.wait_for("Logout cancelled; nothing was changed.")
    assert (agent / "oauth.json").read_text().count("anthropic") == 1
    terminal.keys("l")
    terminal.wait_for("Select provider to login:")
    # The first Enter chooses Anthropic; the two typed with it came before the question
    # "replace that login, or add?" existed, so they must not answer it for the user.
    burst(terminal, "Enter", "Enter", "Enter")
    terminal.wait_for("Replace that login, or add the new one")
    time.sleep(0.5)
    assert "Replace that login, or add the new one" in terminal.screen()  # still asking
    terminal.keys("r")
    # The method choice came after the answer: the Enters typed before it chose nothing.
    terminal.wait_for("How do you want to log in")
    time.sleep(0.5)
    assert "How do you want to log in" in terminal.screen()  # still asking
    terminal.keys("Enter")
    terminal.wait_for("paste it below")
    burst(terminal, "Enter", "Enter")
    time.sleep(0.5)
    assert "paste it below" in terminal.screen()
    terminal.keys("C-c")
    terminal.wait_for("EXITED 0")
    assert_clean(terminal)


def test_ctrl_c_quits_from_every_screen(terminal: Terminal, fake: FakeProviders, tmp_path: Path) -> None:
    start(terminal, fake, tmp_path)
    terminal.keys("l")
    terminal.wait_for("Select provider to login:")
    terminal.keys("Down", "Enter")
    terminal.wait_for("GitHub Enterprise URL/domain")
    terminal.keys("C-c")
    terminal.wait_for("EXITED 0")
    assert_clean(terminal)


def test_ctrl_c_during_a_login_started_from_the_command_line_exits_cancelled(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    start(terminal, fake, tmp_path, "login", "anthropic", wait="How do you want to log in")
    terminal.keys("Enter")
    terminal.wait_for("paste it below")
    terminal.keys("C-c")
    terminal.wait_for(f"EXITED {LoginCancelled.exit_code}")
    assert_clean(terminal)


def test_osc52_in_tmux_goes_through_its_passthrough_and_is_not_called_copied(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    """No system clipboard (no display): ^y sends OSC 52 wrapped for tmux, and says so honestly."""
    import base64
    import re

    start(terminal, fake, tmp_path, "login", "anthropic", wait="How do you want to log in")
    terminal.keys("Enter")
    terminal.wait_for("paste it below")
    raw = tmp_path / "pane.raw"
    terminal.tmux("pipe-pane", "-o", "-t", "pi", f"cat >> {raw}")  # the bytes pi-tui writes to tmux
    terminal.keys("C-y")
    screen = terminal.wait_for("through tmux (OSC 52)")
    assert "Link copied to the clipboard" not in screen
    deadline = time.monotonic() + 10
    while b"\x1bPtmux;" not in (raw.read_bytes() if raw.exists() else b"") and time.monotonic() < deadline:
        time.sleep(0.1)
    found = re.search(rb"\x1bPtmux;\x1b\x1b\]52;c;([A-Za-z0-9+/=]+)\x07\x1b\\", raw.read_bytes())
    assert found is not None, raw.read_bytes()[-400:]
    assert base64.b64decode(found.group(1)).decode().startswith(f"{fake.base}/oauth/authorize?")
    terminal.keys("C-c")
    terminal.wait_for("EXITED")
    assert_clean(terminal)


def test_ctrl_c_at_the_link_printed_alone_quits_at_once(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    start(terminal, fake, tmp_path, "login", "anthropic", wait="How do you want to log in")
    terminal.keys("Enter")
    terminal.wait_for("paste it below")
    terminal.keys("C-l")  # the app steps aside: the link as one line of the terminal
    terminal.wait_for("Press Enter to return to pi-tui.")
    terminal.keys("C-c")
    screen = terminal.wait_for("EXITED", timeout=5)
    assert f"EXITED {LoginCancelled.exit_code}" in screen  # no login was made
    assert "KeyboardInterrupt" not in screen
    assert_clean(terminal)


@pytest.mark.parametrize(
    ("answer", "code", "said"),
    [
        ("y", 0, "Logged out of Anthropic (Claude Pro/Max). Its tokens were deleted from"),
        ("n", LoginCancelled.exit_code, "Logout cancelled; nothing was changed."),
    ],
)
def test_logout_without_a_provider_returns_to_the_shell_once_answered(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path, answer: str, code: int, said: str
) -> None:
    store = CredentialStore(tmp_path / "agent" / "oauth.json")
    seed_fake_anthropic(store, expires=now_ms() + 2 * HOUR_MS)
    start(terminal, fake, tmp_path, "logout", wait="Select provider to logout:")
    terminal.keys("Enter")
    terminal.wait_for("Log out of Anthropic (Claude Pro/Max)?")
    terminal.keys(answer)
    screen = terminal.wait_for("EXITED", timeout=5)
    assert f"EXITED {code}" in screen
    assert said in " ".join(screen.split())
    assert (store.get("anthropic") is None) is (code == 0)
    assert_clean(terminal)


def test_under_the_c_locale_the_cursor_is_drawn_in_ascii(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    start(terminal, fake, tmp_path, env={"LC_ALL": "C"})
    screen = terminal.screen()
    assert "> Anthropic" in screen
    assert "▸" not in screen and "●" not in screen
    terminal.keys("q")
    terminal.wait_for("EXITED 0")
