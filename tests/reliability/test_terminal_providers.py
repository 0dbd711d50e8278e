"""The new providers' logins in a real terminal (tmux): Codex by browser (the loopback callback, or
a pasted redirect when its port is taken) and by device code, and every device-only provider
(xAI, Kimi Code, Meta).

Same harness as :mod:`tests.reliability.test_terminal_e2e`: tmux is the terminal, keys are typed
with ``send-keys``, the "browser" is this test following the authorization link to pi-tui's
loopback listener, and the device code is approved in the fake. Each login ends with the entry
stored and pi-tui exiting with status 0; no capture may hold a full token.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest

from app.mask import mask
from app.providers import DEVICE, PROVIDERS
from tests.fakes.server import FakeProviders
from tests.reliability.helpers import file_mode, now_ms, read_doc
from tests.reliability.test_terminal_e2e import PI_TUI, Terminal, link_on_screen, terminal

__all__ = ["terminal"]

CODEX = "openai-codex"
TALL = 60


def start(
    terminal: Terminal, fake: FakeProviders, agent_dir: Path, *args: str, env: dict[str, str] | None = None
) -> None:
    """Run ``pi-tui [ARGS] --agent-dir …`` against the fake, a loopback listener allowed."""
    env = (
        fake.env()
        | (env or {})
        | {
            "PI_TUI_LOG_DIR": str(agent_dir.parent / "logs"),
            "BROWSER": "true",  # "opens" the link; this test plays the browser
            "TERM": "xterm-256color",
        }
    )
    terminal.start([str(PI_TUI), *args, "--agent-dir", str(agent_dir)], env)
    # Tall enough for every provider's card on the status panel.
    terminal.tmux("resize-window", "-t", "pi", "-y", str(TALL))


def choose_provider(terminal: Terminal, provider_id: str) -> None:
    """From the home screen: ``l``, then arrow keys down to the provider (nothing logged in yet)."""
    terminal.wait_for("Press l to log in.")
    terminal.keys("l")
    terminal.wait_for("Select provider to login:")
    terminal.keys(*["Down"] * list(PROVIDERS).index(provider_id), "Enter")


def approve_shown_code(terminal: Terminal, fake: FakeProviders, provider_id: str) -> None:
    """Read the user code off the screen and approve exactly that code in the fake."""
    server = fake.provider(provider_id)
    screen = terminal.wait_for("Waiting for you to approve")
    user_code = server.latest_user_code
    assert user_code and user_code.replace("-", "") in re.sub(r"[\s-]", "", screen), screen
    server.approve(user_code)


def finish(terminal: Terminal, agent_dir: Path, provider_id: str) -> dict[str, str]:
    """After "Logged in": the stored entry, its masked token on the panel, then ``q`` and exit 0."""
    terminal.wait_for(f"✓ Logged in to {PROVIDERS[provider_id].name}")  # then "." or " as ACCOUNT."
    path = agent_dir / "auth.json"  # a fresh agent directory gets the file pi 1.x reads
    entry: dict[str, str] = read_doc(path)[provider_id]
    assert entry["type"] == "oauth" and int(entry["expires"]) > now_ms()
    assert file_mode(path) == 0o600
    terminal.keys("Enter")
    terminal.wait_for(mask(entry["access"]))
    terminal.keys("q")
    terminal.wait_for("EXITED 0")
    terminal.assert_never_showed(entry["access"], entry["refresh"])
    return entry


def test_codex_login_by_browser(terminal: Terminal, fake: FakeProviders, tmp_path: Path) -> None:
    agent_dir = tmp_path / "agent"
    start(terminal, fake, agent_dir)
    choose_provider(terminal, CODEX)
    terminal.wait_for(f"How do you want to log in to {PROVIDERS[CODEX].name}?")
    terminal.keys("Enter")  # the default: $BROWSER is set, so the browser on this machine
    url = link_on_screen(terminal.wait_for("Waiting for the browser"))
    # The browser: the fake's authorize page redirects to pi-tui's loopback listener.
    page = httpx.get(url, follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "Signed in" in page.text, page.text + terminal.log_tail()
    entry = finish(terminal, agent_dir, CODEX)
    assert fake.codex.account_of(entry["access"]) == entry["accountId"]
    assert fake.codex.is_refresh_valid(entry["refresh"])


def test_codex_login_by_pasting_the_redirect_when_its_port_is_taken(
    terminal: Terminal, fake: FakeProviders, tmp_path: Path
) -> None:
    agent_dir = tmp_path / "agent"
    with socket.socket() as taken:  # another program (the Codex CLI) holds Codex's port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start(terminal, fake, agent_dir, "login", CODEX, env={"PI_TUI_CALLBACK_PORT": str(port)})
        terminal.wait_for(f"How do you want to log in to {PROVIDERS[CODEX].name}?")
        terminal.keys("Enter")
        screen = terminal.wait_for(f"Port {port} is in use")
        url = link_on_screen(screen)
        assert f"localhost%3A{port}" in url
        # The browser ends on a page that does not load; the user copies its address.
        terminal.paste(fake.codex.redirect_for(url))
        entry = finish(terminal, agent_dir, CODEX)
    assert fake.codex.account_of(entry["access"]) == entry["accountId"]


def test_codex_login_by_device_code(terminal: Terminal, fake: FakeProviders, tmp_path: Path) -> None:
    fake.codex.interval = "1"  # the app waits this long between polls
    fake.codex.min_poll_gap = 0.5
    agent_dir = tmp_path / "agent"
    start(terminal, fake, agent_dir, "login", CODEX)
    terminal.wait_for(f"How do you want to log in to {PROVIDERS[CODEX].name}?")
    terminal.keys("Down", "Enter")
    approve_shown_code(terminal, fake, CODEX)
    entry = finish(terminal, agent_dir, CODEX)
    assert fake.codex.account_of(entry["access"]) == entry["accountId"]
    assert fake.count("codex.exchange") == 1


# Device code is their only method and they ask nothing first (Copilot asks for a host: its own test).
DEVICE_ONLY = [
    provider_id
    for provider_id, info in PROVIDERS.items()
    if not info.questions and all(method.kind == DEVICE for method in info.methods)
]


@pytest.mark.parametrize("provider_id", DEVICE_ONLY)
def test_device_only_login(terminal: Terminal, fake: FakeProviders, tmp_path: Path, provider_id: str) -> None:
    server = fake.provider(provider_id)
    server.interval = 1  # the app waits this long between polls
    server.min_poll_gap = 0.5
    agent_dir = tmp_path / "agent"
    start(terminal, fake, agent_dir)
    choose_provider(terminal, provider_id)
    approve_shown_code(terminal, fake, provider_id)
    entry = finish(terminal, agent_dir, provider_id)
    if provider_id == "meta":  # the stored access is the key minted with the identity token
        assert server.is_key_valid(entry["access"]) and server.is_access_valid(entry["refresh"])
    else:
        assert server.is_access_valid(entry["access"]) and server.is_refresh_valid(entry["refresh"])


RADIUS = "radius"


def test_radius_login_by_browser(terminal: Terminal, fake: FakeProviders, tmp_path: Path) -> None:
    agent_dir = tmp_path / "agent"
    start(terminal, fake, agent_dir, "login", RADIUS, env={"PI_TUI_CALLBACK_PORT": "0"})
    terminal.wait_for(f"How do you want to log in to {PROVIDERS[RADIUS].name}?")
    terminal.keys("Enter")  # the default: $BROWSER is set, so the browser on this machine
    url = link_on_screen(terminal.wait_for("Waiting for the browser"))
    # The browser: the gateway's authorize page (found by discovery) redirects to the listener.
    page = httpx.get(url, follow_redirects=True, timeout=30)
    assert page.status_code == 200, page.text + terminal.log_tail()
    entry = finish(terminal, agent_dir, RADIUS)
    server = fake.provider(RADIUS)
    assert server.is_access_valid(entry["access"]) and server.is_refresh_valid(entry["refresh"])


def test_radius_login_by_device_code(terminal: Terminal, fake: FakeProviders, tmp_path: Path) -> None:
    server = fake.provider(RADIUS)
    server.interval = 1  # the app waits this long between polls
    server.min_poll_gap = 0.5
    agent_dir = tmp_path / "agent"
    start(terminal, fake, agent_dir, "login", RADIUS)
    terminal.wait_for(f"How do you want to log in to {PROVIDERS[RADIUS].name}?")
    terminal.keys("Down", "Enter")
    approve_shown_code(terminal, fake, RADIUS)
    entry = finish(terminal, agent_dir, RADIUS)
    assert server.is_access_valid(entry["access"]) and server.is_refresh_valid(entry["refresh"])
