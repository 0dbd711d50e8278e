"""The login link's secrets never reach a command line another user could read.

``/proc/PID/cmdline`` is world-readable: a link on the browser's command line hands its
``state`` and PKCE challenge (OpenRouter: its secret callback path) to any local user, who can
authorize it with their own account and call the loopback (login CSRF). pi-tui runs a real
``$BROWSER`` here (tests/security/fake_browser.py) that records its argv and the page it got.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.opener import open_url
from app.service import AuthService, LoginResult
from tests.fakes.engine import FakeProviders
from tests.integration.helpers import make_store
from tests.processes import run_cli

FAKE_BROWSER = Path(__file__).with_name("fake_browser.py")


def browser_env(fake: FakeProviders, tmp_path: Path, record: Path) -> dict[str, str]:
    return fake.env() | {
        "PI_TUI_CALLBACK_PORT": "0",
        "BROWSER": shlex.join([sys.executable, str(FAKE_BROWSER), str(record)]),
        "PI_TUI_LOG_DIR": str(tmp_path / "logs"),
    }


def plain_login(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``pi-tui login ARGS --no-tui`` as a real process, stdin closed: only the browser can finish it."""
    return run_cli("login", *args, "--no-tui", "--agent-dir", str(tmp_path / "agent"), env=env)


def wait_for_json(path: Path, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was never written"
        time.sleep(0.05)
    return dict(json.loads(path.read_text()))


def link_on(stderr: str) -> str:
    return next(line.strip() for line in stderr.splitlines() if line.startswith("http"))


def secrets_of(url: str) -> list[str]:
    """What another user must not learn: state, challenge, and a callback URL's path."""
    query = parse_qs(urlsplit(url).query)
    found = [query["code_challenge"][0]]
    if "state" in query:
        found.append(query["state"][0])
    if "callback_url" in query:
        found.append(urlsplit(query["callback_url"][0]).path)
    return found


@pytest.mark.parametrize(
    ("provider", "extra"),
    [("anthropic", ["--method", "browser"]), ("openrouter", []), ("openai-codex", ["--method", "browser"])],
)
def test_the_browser_gets_a_private_page_and_never_the_link(
    provider: str, extra: list[str], fake: FakeProviders, tmp_path: Path
) -> None:
    record = tmp_path / "browser.json"
    env = browser_env(fake, tmp_path, record)
    done = plain_login(tmp_path, env, provider, *extra)
    assert done.returncode == 0, done.stderr
    url = link_on(done.stderr)
    seen = wait_for_json(record)
    argv = " ".join(seen["argv"])
    hidden = secrets_of(url)
    assert len(hidden) >= 2
    for secret in hidden:
        assert secret not in argv
    assert seen["argv"][-1].startswith("file://")
    (page,) = seen["pages"]
    assert page["mode"] == 0o600 and page["uid"] == os.getuid()
    assert html.escape(url, quote=True) in page["text"]  # the meta refresh leads to the real link
    assert json.dumps(url).replace("&", "\\u0026") in page["text"]  # and so does the script
    folder = Path(page["path"]).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
    assert not Path(page["path"]).exists()  # removed once the login ended
    answered = wait_for_json(Path(f"{record}.page"))
    assert answered.get("status") == 200 and "You can close this tab." in answered["text"]


def test_the_page_is_removed_when_the_login_fails(fake: FakeProviders, tmp_path: Path) -> None:
    fake.fail("anthropic.exchange", status=400, body={"error": "invalid_grant"})
    record = tmp_path / "browser.json"
    env = browser_env(fake, tmp_path, record)
    done = plain_login(tmp_path, env, "anthropic", "--method", "browser")
    assert done.returncode != 0
    assert "did not accept that code" in done.stderr
    (page,) = wait_for_json(record)["pages"]
    assert not Path(page["path"]).exists()


async def test_the_page_is_removed_when_the_login_is_cancelled(fake: FakeProviders, tmp_path: Path) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login("anthropic", "browser")
    started: list[list[str]] = []
    env = {"BROWSER": "firefox", "PI_TUI_STATE_DIR": str(tmp_path / "state")}
    opened = open_url(login.url, env=env, start=lambda argv: started.append(argv) or None, wsl=False)
    assert opened.ok
    page = Path(urlsplit(started[0][-1]).path)
    assert page.exists() and login.url not in started[0][-1]
    await login.aclose()  # Esc on the login screen, Ctrl-C in --no-tui
    assert not page.exists()


async def test_a_device_logins_page_is_removed_when_it_ends(fake: FakeProviders, tmp_path: Path) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login("xai")
    started: list[list[str]] = []
    env = {"BROWSER": "firefox", "PI_TUI_STATE_DIR": str(tmp_path / "state")}
    opened = open_url(login.link, env=env, start=lambda argv: started.append(argv) or None, wsl=False)
    assert opened.ok
    page = Path(urlsplit(started[0][-1]).path)
    assert page.exists() and login.link not in started[0][-1]  # the user code stays off argv too
    await login.aclose()
    assert not page.exists()


def test_on_wsl_the_link_goes_on_the_command_line_and_the_sentence_says_so(tmp_path: Path) -> None:
    url = "https://example.com/authorize?state=s3cr3t-state&code_challenge=c"
    started: list[list[str]] = []
    env = {"BROWSER": "wslview", "WSL_DISTRO_NAME": "Ubuntu", "PI_TUI_STATE_DIR": str(tmp_path / "state")}
    opened = open_url(url, env=env, platform="linux", start=lambda argv: started.append(argv) or True)
    assert started == [["wslview", url]]  # a Windows browser cannot read a file of this Linux
    assert opened.message == (
        "Opened the link in your browser ($BROWSER). On WSL the link went on the browser's command "
        "line, where other users here can read it."
    )
    assert not (tmp_path / "state" / "links").exists()


def test_the_success_line_names_the_account(fake: FakeProviders, tmp_path: Path) -> None:
    record = tmp_path / "browser.json"
    env = browser_env(fake, tmp_path, record)
    done = plain_login(tmp_path, env, "anthropic", "--method", "browser")
    assert done.returncode == 0, done.stderr
    saved_to = tmp_path / "agent" / "auth.json"
    line = f"Logged in to Anthropic (Claude Pro/Max) as user@example.com. Credentials saved to {saved_to}"
    assert line in done.stderr


def test_the_success_line_without_an_account_and_with_a_hostile_one(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    assert LoginResult("x", "Some AI", path).message == f"Logged in to Some AI. Credentials saved to {path}"
    hostile = LoginResult("x", "Some AI", path, "ada@example.com\x1b[2J\x1b]0;pwned\x07").message
    assert hostile == f"Logged in to Some AI as ada@example.com. Credentials saved to {path}"


def test_a_symlinked_page_directory_is_refused_and_the_link_stays_off_the_command_line(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    state = tmp_path / "state"
    state.mkdir()
    (state / "links").symlink_to(elsewhere)  # planted: pages would land where others can read them
    started: list[list[str]] = []
    env = {"BROWSER": "firefox", "PI_TUI_STATE_DIR": str(state)}
    url = "https://example.com/authorize?state=s3cr3t-state&code_challenge=c"
    opened = open_url(url, env=env, start=lambda argv: started.append(argv) or True, wsl=False)
    assert started == [] and not opened.ok
    assert opened.message.startswith("Could not write the page that opens the link (")
    assert opened.message.endswith("); open the link yourself.")
    assert list(elsewhere.iterdir()) == []


def test_a_page_directory_others_can_read_is_made_private_again(tmp_path: Path) -> None:
    links = tmp_path / "state" / "links"
    links.mkdir(parents=True, mode=0o755)
    links.chmod(0o755)
    started: list[list[str]] = []
    env = {"BROWSER": "firefox", "PI_TUI_STATE_DIR": str(tmp_path / "state")}
    url = "https://example.com/a?state=x"
    opened = open_url(url, env=env, start=lambda argv: started.append(argv) or True, wsl=False)
    assert opened.ok and stat.S_IMODE(links.stat().st_mode) == 0o700
