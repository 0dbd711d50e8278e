"""The command line's questions in a real terminal (tmux): Ctrl-C and Ctrl-D at ``[y/N]`` and
at ``login --no-tui``'s prompt end on a clean line of their own, exit 5 (cancelled), and
change nothing."""

from __future__ import annotations

from pathlib import Path

from app.errors import Cancelled
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic
from tests.reliability.test_terminal_e2e import PI_TUI, Terminal, terminal

__all__ = ["terminal"]

EXITED_CANCELLED = f"EXITED {Cancelled.exit_code}"


def run(term: Terminal, fake: FakeProviders, tmp_path: Path, *args: str) -> None:
    env = fake.env() | {
        "PI_TUI_CALLBACK_PORT": "off",
        "PI_TUI_LOG_DIR": str(tmp_path / "logs"),
        "PI_TUI_STATE_DIR": str(tmp_path / "state"),
        "BROWSER": "true",
        "TERM": "xterm-256color",
    }
    term.start([str(PI_TUI), *args, "--agent-dir", str(tmp_path / "agent")], env)


def lines(screen: str) -> list[str]:
    return [line.rstrip() for line in screen.splitlines()]


def test_ctrl_d_at_logout_question_cancels_cleanly(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    store = make_store(tmp_path)
    before = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    run(terminal, fake, tmp_path, "logout", "anthropic")
    terminal.wait_for("[y/N]")
    terminal.keys("C-d")
    screen = terminal.wait_for(EXITED_CANCELLED)
    assert "Traceback" not in screen and "EOFError" not in screen
    assert "pi-tui: Cancelled; nothing was changed." in lines(screen)
    assert store.get("anthropic") == before


def test_ctrl_c_at_logout_question_cancels_on_a_line_of_its_own(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    store = make_store(tmp_path)
    before = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    run(terminal, fake, tmp_path, "logout", "anthropic")
    terminal.wait_for("[y/N]")
    terminal.keys("C-c")
    screen = terminal.wait_for(EXITED_CANCELLED)
    assert "Traceback" not in screen and "interrupted" not in screen
    question = next(line for line in lines(screen) if "[y/N]" in line)
    assert "pi-tui:" not in question  # the sentence is not glued to "^C"
    assert "pi-tui: Cancelled; nothing was changed." in lines(screen)
    assert store.get("anthropic") == before


def test_no_tui_login_asks_before_replacing_and_names_the_account(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    store = make_store(tmp_path)
    before = seed_anthropic(
        store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS, email="me@example.com"
    )
    run(terminal, fake, tmp_path, "login", "anthropic", "--no-tui")
    terminal.wait_for(
        "You are logged in to Anthropic (Claude Pro/Max) as me@example.com. Replace that login, "
        "or add the new one as another account? [r]eplace / [a]dd another account, Enter to cancel:"
    )
    terminal.keys("Enter")
    screen = terminal.wait_for(EXITED_CANCELLED)
    assert "pi-tui: Cancelled; the existing login was kept." in lines(screen)
    assert store.get("anthropic") == before and fake.count("anthropic.exchange") == 0


def test_ctrl_c_while_no_tui_login_waits_for_the_code(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    run(terminal, fake, tmp_path, "login", "anthropic", "--no-tui")
    # On a terminal the method is offered first, the usual one preselected.
    assert "1. Browser on this machine  (default)" in terminal.wait_for("Enter for the default")
    terminal.keys("Enter")
    terminal.wait_for("then Enter:")
    terminal.keys("C-c")
    screen = terminal.wait_for(EXITED_CANCELLED)
    assert "Traceback" not in screen
    assert "pi-tui: Login cancelled; nothing was changed." in lines(screen)
    assert not (tmp_path / "agent" / "oauth.json").exists()
