"""pi-tui in a real terminal: tmux runs the installed ``pi-tui``, keys and a bracketed paste drive it.

Nothing here goes through Textual's test harness: tmux is the terminal, ``send-keys`` types,
``paste-buffer -p`` pastes the way a terminal does when the app has asked for bracketed paste,
and ``capture-pane`` reads what a person would see. Every captured screen is also checked for
full tokens (none may appear, even split over lines).

tmux is a Debian package that .ci/run installs: without it the tests skip on a workstation and
fail in CI (``CI`` set), so they can never be skipped there without anyone noticing.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviders
from tests.processes import clean_env
from tests.reliability.helpers import file_mode, now_ms, read_doc

PI_TUI = Path(sys.executable).with_name("pi-tui")
WIDTH, HEIGHT = 100, 30
HOME_TEXT = "Nothing is logged in yet. Press l to log in."


class Terminal:
    """A detached tmux session on its own server socket, running one command."""

    def __init__(self) -> None:
        self.socket = f"pi-tui-e2e-{os.getpid()}-{secrets.token_hex(4)}"
        self.socket_path: Path | None = None
        self.captures: list[str] = []
        self.log_path: Path | None = None  # pi-tui's log, shown when a wait fails
        # The tmux server takes its environment from the first client: keep ours out of it.
        self._client_env = {k: v for k, v in clean_env().items() if k not in ("TMUX", "TMUX_PANE")}

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self._client_env,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        """Run ``argv`` in a WIDTH x HEIGHT session; when it ends the pane says ``EXITED <code>``."""
        # $? read before the echo, or every run would seem to exit 0.
        script = f"{shlex.join(argv)}; code=$?; echo; echo EXITED $code; sleep 600"
        if env.get("PI_TUI_LOG_DIR"):
            self.log_path = Path(env["PI_TUI_LOG_DIR"]) / "pi-tui.log"
        variables = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        self.tmux("new-session", "-d", "-s", "pi", "-x", str(WIDTH), "-y", str(HEIGHT), *variables, script)
        self.socket_path = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())

    def screen(self) -> str:
        """What the pane shows now (``-J``: lines the terminal wrapped are joined)."""
        text = self.tmux("capture-pane", "-p", "-J", "-t", "pi")
        self.captures.append(text)
        return text

    def wait_for(self, text: str, timeout: float = 20.0, *, gone: str | None = None) -> str:
        """Poll the pane until ``text`` is on it (and ``gone`` is not); fail with the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen and (gone is None or gone not in screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {timeout:g} s; the screen:\n{screen}{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        """The end of pi-tui's log (tokens are masked there), for a failure message."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return "\npi-tui's log:\n" + "\n".join(tail)

    def keys(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names: ``Down``, ``Enter``, ``l``), one at a time."""
        for key in keys:
            self.tmux("send-keys", "-t", "pi", key)
            time.sleep(0.15)

    def paste(self, text: str) -> None:
        """Paste ``text`` as a terminal does: inside bracketed-paste markers (``-p``)."""
        self.tmux("set-buffer", "-b", "e2e", "--", text)
        self.tmux("paste-buffer", "-p", "-d", "-b", "e2e", "-t", "pi")

    def kill(self) -> None:
        """Stop the server, and with it pi-tui; tmux 3.3 leaves its socket file behind."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self._client_env)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    def assert_never_showed(self, *secrets_: str) -> None:
        """No capture held any of ``secrets_``, not even wrapped over lines."""
        for screen in self.captures:
            folded = "".join(screen.split())
            for secret in secrets_:
                assert secret not in screen and secret not in folded, "a full token was on screen"


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is not installed; .ci/run installs it (apt-get install tmux)")
        pytest.skip("tmux is not installed")
    term = Terminal()
    try:
        yield term
    finally:
        term.kill()


def start_pi_tui(terminal: Terminal, fake: FakeProviders, agent_dir: Path) -> None:
    env = fake.env() | {
        "PI_TUI_CALLBACK_PORT": "off",  # no browser on this machine: the code comes by paste
        "PI_TUI_LOG_DIR": str(agent_dir.parent / "logs"),
        "BROWSER": "true",  # "opens" the link without a browser taking over anything
        "TERM": "xterm-256color",
    }
    terminal.start([str(PI_TUI), "--agent-dir", str(agent_dir)], env)
    terminal.wait_for(HOME_TEXT)


def link_on_screen(screen: str) -> str:
    """The authorization link, put back together from the lines the app wrapped it over."""
    lines = [line.strip() for line in screen.splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith("http"))
    parts = []
    for line in lines[first:]:
        if not line or " " in line:
            break
        parts.append(line)
    return "".join(parts)


def test_anthropic_login_with_arrow_keys_and_a_bracketed_paste(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    agent_dir = tmp_path / "agent"
    start_pi_tui(terminal, fake, agent_dir)

    terminal.keys("l")
    terminal.wait_for("Select provider to login:")
    terminal.keys("Down", "Up", "Enter")
    terminal.wait_for("How do you want to log in to Anthropic")
    terminal.keys("Enter")  # the default: $BROWSER is set, so the browser on this machine
    screen = terminal.wait_for("paste it below")
    url = link_on_screen(screen)
    code, state = fake.anthropic.authorize(url)  # raises if any part of the link was lost
    assert url.endswith(f"state={state}")
    terminal.paste(f"{code}#{state}")
    terminal.wait_for("✓ Logged in to Anthropic (Claude Pro/Max) as user@example.com.")

    path = agent_dir / "auth.json"  # a new agent directory gets modern pi's file, and only that
    assert not (agent_dir / "oauth.json").exists()
    entry = read_doc(path)["anthropic"]
    assert entry["type"] == "oauth" and entry["expires"] > now_ms()
    assert fake.anthropic.is_access_valid(entry["access"])
    assert fake.anthropic.is_refresh_valid(entry["refresh"])
    assert file_mode(path) == 0o600 and file_mode(agent_dir) == 0o700
    terminal.keys("Enter")
    terminal.wait_for(f"sk-ant-oat01-…{entry['access'][-4:]}")  # the masked token on the card
    terminal.keys("q")
    terminal.wait_for("EXITED 0")
    terminal.assert_never_showed(entry["access"], entry["refresh"])


def test_copilot_device_login_with_arrow_keys(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    fake.github.interval = 1  # the app waits this long before each poll
    fake.github.min_poll_gap = 0.5
    agent_dir = tmp_path / "agent"
    start_pi_tui(terminal, fake, agent_dir)

    terminal.keys("l")
    terminal.wait_for("Select provider to login:")
    terminal.keys("Down", "Enter")
    terminal.wait_for("GitHub Enterprise URL/domain (blank for github.com):")
    terminal.keys("Enter")
    screen = terminal.wait_for("Waiting for you to approve")
    user_code = fake.github.latest_user_code  # shown as one word, or spaced out
    assert user_code and user_code in screen.replace(" ", ""), screen
    fake.github.approve(user_code)
    terminal.wait_for("✓ Logged in to GitHub Copilot as @octocat.")

    path = agent_dir / "auth.json"
    entry = read_doc(path)["github-copilot"]
    assert fake.github.login_for(entry["refresh"]) == "octocat"
    assert fake.copilot.is_token_valid(entry["access"])
    assert entry["expires"] > now_ms() and "enterpriseUrl" not in entry
    assert file_mode(path) == 0o600
    terminal.keys("Enter")
    # "@octocat" is on the done screen too: the panel's is the one left when that screen is gone.
    terminal.wait_for("@octocat", gone="Press Enter to return")
    terminal.keys("q")
    terminal.wait_for("EXITED 0")
    terminal.assert_never_showed(entry["access"], entry["refresh"])
