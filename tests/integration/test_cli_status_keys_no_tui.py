"""The command line and the service: exit codes, a token's life in `status`,
API keys tested as API keys, `login --no-tui`, and the words that misled (real processes,
real HTTP to the loopback fake)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.credentials import State
from app.errors import AuthError, LoginInputError
from app.providers.anthropic import authorize_url, endpoints
from app.service import AuthService
from app.state import BY_OTHER, BY_TOKEN
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, read_doc, seed_anthropic
from tests.pi import refresh_like_pi, write_like_pi
from tests.processes import ROOT, clean_env, run_cli


def cli_store(tmp_path: Path) -> CredentialStore:
    """The store the CLI picks in ``tmp_path/agent``: a login into an empty one creates auth.json."""
    return CredentialStore.for_agent_dir(tmp_path / "agent", {})


API_KEY = "sk-ant-api03-" + "k" * 40


def status_row(
    store_dir: Path, provider: str = "anthropic", env: dict[str, str] | None = None
) -> dict[str, Any]:
    out = run_cli("status", "--json", "--agent-dir", str(store_dir), env=env)
    assert out.returncode == 0, out.stderr
    return next(p for p in json.loads(out.stdout)["providers"] if p["provider"] == provider)


# -- defect 9 and "a token's life": status remembers what happened ----------------------


def test_status_says_refresh_failed_after_token_found_the_login_dead(
    tmp_path: Path, fake: FakeProviders
) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.anthropic.revoke_all()
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 4 and "Anthropic no longer accepts this login" in out.stderr

    text = run_cli("status", "--agent-dir", str(store.path.parent)).stdout
    assert "Anthropic (Claude Pro/Max): refresh failed" in text
    assert "expired, will refresh" not in text
    assert "Anthropic no longer accepts this login" in text
    row = status_row(store.path.parent)
    assert (row["state"], row["state_text"]) == ("refresh_failed", "refresh failed")
    assert row["error"].startswith("Anthropic no longer accepts this login")
    assert abs(row["error_at"] - now_ms()) < 60_000
    assert store.get("anthropic") is not None  # never deleted


def test_status_json_carries_the_token_life_after_a_refresh_by_token(
    tmp_path: Path, fake: FakeProviders
) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    assert status_row(store.path.parent)["state"] == "expired"
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 0, out.stderr
    entry = store.get("anthropic")
    assert entry is not None

    row = status_row(store.path.parent)
    assert row["state"] == "logged_in" and row["kind"] == "oauth"
    assert row["last_refresh_by"] == BY_TOKEN
    assert abs(row["last_refresh_at"] - now_ms()) < 60_000
    assert row["next_refresh_at"] == entry["expires"] - 5 * 60_000  # pi 1.x: due 5 min before expires
    assert row["error"] is None and row["error_at"] is None
    text = run_cli("status", "--agent-dir", str(store.path.parent)).stdout
    assert "ago by pi-tui token; next refresh in 7h" in text
    state_text = json.dumps(read_state(tmp_path))
    assert entry["access"] not in state_text and entry["refresh"] not in state_text  # never a token


def test_a_refresh_by_another_process_is_seen_and_clears_an_old_failure(
    tmp_path: Path, fake: FakeProviders
) -> None:
    store = make_store(tmp_path)
    tokens = fake.anthropic.seed_login()
    seed_anthropic(store, tokens, expires=now_ms() - 1)
    fake.fail("anthropic.refresh", status=502, body="<html>bad gateway</html>", content_type="text/html")
    assert (
        run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env()).returncode == 4
    )
    row = status_row(store.path.parent)
    assert row["state"] == "expired" and "HTTP 502" in row["error"]  # a passing failure: still "will refresh"

    # pi refreshes on its own, without pi-tui: the file changes under pi-tui's feet.
    entry = refresh_like_pi(fake, tokens["refresh"], expires=now_ms() + HOUR_MS)
    write_like_pi(store.path, {"anthropic": entry})
    row = status_row(store.path.parent)
    assert row["state"] == "logged_in" and row["error"] is None
    assert row["last_refresh_by"] == BY_OTHER == "another process"
    assert row["last_refresh_at"] is not None


def test_a_new_login_clears_the_remembered_failure(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.anthropic.revoke_all()
    run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert status_row(store.path.parent)["state"] == "refresh_failed"
    proc = start_plain_login(store.path.parent, fake, "anthropic", "--yes")
    url = read_until(proc, lambda line: line.startswith("http"))
    code, state = fake.anthropic.authorize(url)
    _out, err = proc.communicate(f"{code}#{state}\n", timeout=60)
    assert proc.returncode == 0, err
    row = status_row(store.path.parent)
    assert row["state"] == "logged_in" and row["error"] is None and row["logged_in_at"] is not None


def read_state(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "pi-tui-state" / "state.json").read_text())


# -- defect 5: an API key is tested as an API key ----------------------------------------


async def test_an_api_key_is_tested_with_x_api_key(tmp_path: Path, fake: FakeProviders) -> None:
    fake.anthropic.api_keys.add(API_KEY)
    service = AuthService(make_store(tmp_path), env=fake.env() | {"ANTHROPIC_API_KEY": API_KEY})
    assert await service.test("anthropic") == "OK: claude-haiku-4-5 answered the test call."
    (request,) = fake.requests_for("anthropic.messages")
    assert request.headers["x-api-key"] == API_KEY and "authorization" not in request.headers
    assert "anthropic-beta" not in request.headers
    status = service.status("anthropic")
    assert status.kind == "api_key" and status.state is State.LOGGED_IN


async def test_r_on_an_api_key_says_it_does_not_expire(
    tmp_path: Path, fake: FakeProviders, make_app: Any
) -> None:
    from tests.tui.helpers import flat, wait_for_text

    service = AuthService(make_store(tmp_path), env=fake.env() | {"ANTHROPIC_API_KEY": API_KEY})
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "it uses an API key ($ANTHROPIC_API_KEY)")
        assert "press r to refresh" not in flat(app).lower()


async def test_a_rejected_api_key_does_not_say_refresh(tmp_path: Path, fake: FakeProviders) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env() | {"ANTHROPIC_API_KEY": API_KEY})
    with pytest.raises(AuthError) as caught:
        await service.test("anthropic")
    message = str(caught.value)
    assert message.startswith("Anthropic rejected the API key (HTTP 401")
    assert "refresh," not in message and "Press r" not in message


def test_status_names_an_api_key(tmp_path: Path) -> None:
    row = status_row(tmp_path / "agent", env={"ANTHROPIC_API_KEY": API_KEY})
    assert (row["kind"], row["source"], row["state"]) == ("api_key", "ANTHROPIC_API_KEY", "logged_in")
    text = run_cli(
        "status", "--agent-dir", str(tmp_path / "agent"), env={"ANTHROPIC_API_KEY": API_KEY}
    ).stdout
    assert "via ANTHROPIC_API_KEY, API key" in text


# -- defect 12: words that misled ----------------------------------------------------------


async def test_a_code_that_is_not_one_is_not_called_expired(tmp_path: Path, fake: FakeProviders) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login("anthropic", "browser")
    try:
        with pytest.raises(LoginInputError) as caught:
            await login.submit("abc")
    finally:
        await login.aclose()
    message = str(caught.value)
    assert message.startswith(
        "Anthropic did not accept that code (Invalid or already used authorization code)."
    )
    assert "expired" not in message


async def test_a_denial_in_the_browser_does_not_send_the_user_back_to_the_spent_link(
    tmp_path: Path, fake: FakeProviders
) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env() | {"PI_TUI_CALLBACK_PORT": "0"})
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    fake.anthropic.deny_next_authorize()
    async with httpx.AsyncClient(verify=client_tls(), follow_redirects=True) as browser:
        await browser.get(login.url)
    with pytest.raises(LoginInputError) as caught:
        await asyncio.wait_for(waiter, 10)
    await login.aclose()
    assert str(caught.value) == "Anthropic did not authorize the login (The user denied access)."


def test_an_authorize_override_with_a_query_keeps_one_query() -> None:
    urls = endpoints({"PI_TUI_ANTHROPIC_AUTHORIZE_URL": "https://login.example/authorize?foo=1"})
    url = authorize_url(urls, redirect_uri="http://localhost:1/callback", challenge="c", state="s")
    assert url.count("?") == 1 and url.startswith("https://login.example/authorize?foo=1&code=true&")


def test_a_url_override_with_a_space_is_refused(tmp_path: Path) -> None:
    out = run_cli(
        "status", "--agent-dir", str(tmp_path), env={"PI_TUI_COPILOT_API_URL": "https://exa mple.com"}
    )
    assert out.returncode == 2
    assert out.stderr.startswith("pi-tui: PI_TUI_COPILOT_API_URL must be a URL such as https://example.com")


def test_an_agent_dir_that_is_a_file_is_said_to_be_one(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    said = (
        f"{a_file / 'auth.json'} cannot be used: {a_file} is a file, not a directory. Point --agent-dir "
        "(or $PI_CODING_AGENT_DIR) at pi's agent directory, e.g. ~/.pi/agent."
    )
    for args in (["token", "anthropic"], ["logout", "anthropic", "--yes"]):
        out = run_cli(*args, "--agent-dir", str(a_file))
        assert (out.returncode, out.stderr) == (3, f"pi-tui: {said}\n")
    out = run_cli("status", "--agent-dir", str(a_file))
    assert out.returncode == 3 and said in out.stdout and "check the disk" not in out.stdout
    out = run_cli("status", env={"PI_CODING_AGENT_DIR": str(a_file / "agent")})
    assert f"{a_file} is a file, not a directory" in out.stdout and "check the disk" not in out.stdout


def test_an_empty_agent_dir_is_an_error_not_the_default(tmp_path: Path) -> None:
    out = run_cli("status", "--agent-dir", "", env={"HOME": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr == "pi-tui: --agent-dir needs a directory; leave the option out to use the default.\n"


def test_no_terminal_says_it_once_and_points_at_no_tui(tmp_path: Path) -> None:
    out = run_cli("--agent-dir", str(tmp_path))
    assert out.returncode == 2 and "pi-tui: pi-tui" not in out.stderr
    assert out.stderr.startswith("pi-tui: The full-screen app needs a terminal;")
    out = run_cli("login", "anthropic", "--agent-dir", str(tmp_path))
    assert out.returncode == 2
    assert "run `pi-tui login anthropic --no-tui`" in out.stderr


# -- login --no-tui ------------------------------------------------------------------------


def start_plain_login(
    agent_dir: Path, fake: FakeProviders, provider: str, *extra: str, port: str = "off"
) -> subprocess.Popen[str]:
    env = fake.env() | {
        "PI_TUI_CALLBACK_PORT": port,
        "BROWSER": "true",
        "PI_TUI_LOG_DIR": str(agent_dir.parent / "logs"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "login",
            provider,
            "--no-tui",
            "--agent-dir",
            str(agent_dir),
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )


def read_until(proc: subprocess.Popen[str], wanted: Any) -> str:
    """Read stderr line by line until ``wanted(line)``; that line, stripped."""
    assert proc.stderr is not None
    seen = []
    while True:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"pi-tui ended before the line came: {''.join(seen)}")
        seen.append(line)
        if wanted(line.strip()):
            return line.strip()


def test_no_tui_anthropic_login_reads_the_code_from_stdin(tmp_path: Path, fake: FakeProviders) -> None:
    agent = tmp_path / "agent"
    proc = start_plain_login(agent, fake, "anthropic")
    url = read_until(proc, lambda line: line.startswith("http"))
    assert read_until(proc, bool) == "Opened the link in your browser ($BROWSER)."
    code, state = fake.anthropic.authorize(url)
    out, err = proc.communicate(f"abc\n{code}#{state}\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Anthropic did not accept that code" in err  # the first line; the second one worked
    saved = f"Credentials saved to {agent / 'auth.json'}"
    assert f"Logged in to Anthropic (Claude Pro/Max) as user@example.com. {saved}" in err
    entry = read_doc(cli_store(tmp_path))["anthropic"]
    assert fake.anthropic.is_access_valid(entry["access"])
    assert entry["access"] not in err + out and out == ""


def test_no_tui_copilot_login_shows_the_code_and_polls(tmp_path: Path, fake: FakeProviders) -> None:
    fake.github.interval = 1
    fake.github.min_poll_gap = 0.5
    proc = start_plain_login(tmp_path / "agent", fake, "github-copilot")
    assert proc.stdin is not None
    proc.stdin.write("\n")  # github.com
    proc.stdin.flush()
    line = read_until(proc, lambda text: text.startswith("Open this page and enter the code"))
    user_code = line.removeprefix("Open this page and enter the code ").rstrip(":")
    assert user_code == fake.github.latest_user_code
    fake.github.approve(user_code)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Logged in to GitHub Copilot as @octocat." in err
    assert fake.github.login_for(read_doc(cli_store(tmp_path))["github-copilot"]["refresh"]) == "octocat"


def test_no_tui_end_of_input_is_a_cancel(tmp_path: Path, fake: FakeProviders) -> None:
    proc = start_plain_login(tmp_path / "agent", fake, "anthropic")
    _out, err = proc.communicate("", timeout=60)
    assert proc.returncode == 5, err
    assert err.rstrip().endswith(
        "pi-tui: Login cancelled: the input ended before an answer came; nothing was changed."
    )
    assert "Traceback" not in err and not (tmp_path / "agent" / "auth.json").exists()


def test_no_tui_asks_before_replacing_a_login_and_names_it(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    before = seed_anthropic(
        store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS, email="me@example.com"
    )
    proc = start_plain_login(store.path.parent, fake, "anthropic")
    _out, err = proc.communicate("", timeout=60)
    assert proc.returncode == 2
    assert err == (
        "pi-tui: You are logged in to Anthropic (Claude Pro/Max) as me@example.com. "
        "Replace that login, or add the new one as another account? "
        "Add --replace or --add to decide without a prompt.\n"
    )
    assert store.get("anthropic") == before and fake.count("anthropic.exchange") == 0


def test_a_refresh_by_the_library_is_recorded_as_the_library(tmp_path: Path, fake: FakeProviders) -> None:
    from app.api import get_api_key

    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    token = get_api_key("anthropic", agent_dir=store.path.parent, env=fake.env())
    status = AuthService(store, env=fake.env()).status("anthropic")
    assert fake.anthropic.is_access_valid(token)
    assert (status.refreshed_by, status.state) == ("pi-tui library", State.LOGGED_IN)


def test_no_tui_login_completes_by_the_browser_on_this_machine(tmp_path: Path, fake: FakeProviders) -> None:
    proc = start_plain_login(tmp_path / "agent", fake, "anthropic", port="0")
    url = read_until(proc, lambda line: line.startswith("http"))
    # The browser: authorize, then the redirect.
    httpx.get(url, follow_redirects=True, timeout=30, verify=client_tls())
    _out, err = proc.communicate(timeout=60)  # stdin still open: the listener finished the login
    assert proc.returncode == 0, err
    assert "Logged in to Anthropic (Claude Pro/Max) as user@example.com." in err
    assert fake.anthropic.is_access_valid(read_doc(cli_store(tmp_path))["anthropic"]["access"])


def test_no_tui_method_flag_picks_copy_code_and_names_the_usual_one_otherwise(
    tmp_path: Path, fake: FakeProviders
) -> None:
    proc = start_plain_login(tmp_path / "agent", fake, "anthropic", "--method", "copy_code")
    url = read_until(proc, lambda line: line.startswith("http"))
    assert "redirect_uri=https%3A%2F%2Fplatform.claude.com%2Foauth%2Fcode%2Fcallback" in url
    code, state = fake.anthropic.authorize(url)
    _out, err = proc.communicate(f"{code}#{state}\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Login method:" not in err  # chosen by the flag: nothing to name
    assert fake.anthropic.is_access_valid(read_doc(cli_store(tmp_path))["anthropic"]["access"])

    other = start_plain_login(tmp_path / "other", fake, "anthropic")
    _out, err = other.communicate("", timeout=60)
    assert "Login method: Browser on this machine (--method browser; other: copy_code)." in err


def test_no_tui_unknown_method_is_a_sentence(tmp_path: Path, fake: FakeProviders) -> None:
    proc = start_plain_login(tmp_path / "agent", fake, "anthropic", "--method", "carrier-pigeon")
    _out, err = proc.communicate("", timeout=60)
    assert proc.returncode == 2, err
    assert err == (
        "pi-tui: Anthropic (Claude Pro/Max) has no login method 'carrier-pigeon'; "
        "choose one of: browser, copy_code.\n"
    )
