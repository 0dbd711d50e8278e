"""GitHub Copilot: offering a github.com token another Copilot client saved (apps.json, hosts.json),
checked with the Copilot token exchange over real HTTP to the loopback fake before anything is saved."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from app.errors import AuthError
from app.plain_login import LineReader, PlainLogin
from app.providers import OFFER
from app.service import AuthService
from tests.fakes.server import FakeProviders
from tests.integration.helpers import make_store
from tests.processes import ROOT, clean_env
from tests.tui.helpers import flat, wait_for_screen, wait_for_text

PROVIDER = "github-copilot"
APP_ID = "Iv1.b507a08c87ecfe98"


def write(path: Path, doc: Any) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(doc, indent=2).encode()
    path.write_bytes(raw)
    return raw


def apps_json(
    token: str, *, user: str = "octocat", app_id: str = APP_ID, host: str = "github.com"
) -> dict[str, Any]:
    return {f"{host}:{app_id}": {"user": user, "oauth_token": token, "githubAppId": app_id}}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def make_service(fake: FakeProviders, tmp_path: Path, home: Path, **env: str) -> AuthService:
    return AuthService(make_store(tmp_path), env={**fake.env(), "HOME": str(home), **env})


# -- what is offered ---------------------------------------------------------------------------


def test_a_matching_apps_json_token_is_offered(fake: FakeProviders, tmp_path: Path, home: Path) -> None:
    write(home / ".config/github-copilot/apps.json", apps_json("gho_saved"))
    service = make_service(fake, tmp_path, home)
    (offer,) = service.offers(PROVIDER, {"host": ""})
    assert offer.kind == OFFER
    assert offer.label == "Use the token from ~/.config/github-copilot/apps.json (@octocat)"
    assert "gho_saved" not in repr(offer)


def test_a_hosts_json_token_is_offered(fake: FakeProviders, tmp_path: Path, home: Path) -> None:
    write(
        home / ".config/github-copilot/hosts.json",
        {"github.com": {"user": "hubot", "oauth_token": "gho_hosts"}},
    )
    (offer,) = make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""})
    assert offer.label == "Use the token from ~/.config/github-copilot/hosts.json (@hubot)"


def test_xdg_config_home_is_searched_too(fake: FakeProviders, tmp_path: Path, home: Path) -> None:
    xdg = tmp_path / "xdg"
    write(xdg / "github-copilot/apps.json", apps_json("gho_xdg"))
    service = make_service(fake, tmp_path, home, XDG_CONFIG_HOME=str(xdg))
    (offer,) = service.offers(PROVIDER, {"host": ""})
    assert offer.label == f"Use the token from {xdg}/github-copilot/apps.json (@octocat)"


def test_the_same_token_in_both_files_is_offered_once(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    write(home / ".config/github-copilot/apps.json", apps_json("gho_same"))
    write(
        home / ".config/github-copilot/hosts.json",
        {"github.com": {"user": "octocat", "oauth_token": "gho_same"}},
    )
    assert len(make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""})) == 1


@pytest.mark.parametrize(
    ("name", "doc"),
    [
        ("apps.json", apps_json("gho_other", app_id="Iv1.0000000000000000")),
        ("apps.json", apps_json("gho_ghe", host="ghe.example.com")),
        ("hosts.json", {"ghe.example.com": {"user": "octocat", "oauth_token": "gho_ghe"}}),
        (
            "hosts.json",
            {"github.com": {"user": "octocat", "oauth_token": "gho_x", "githubAppId": "Iv1.other"}},
        ),
        ("hosts.json", {"github.com": {"user": "octocat", "oauth_token": "has spaces"}}),
        ("hosts.json", {"github.com": {"user": "octocat"}}),
        ("hosts.json", ["not", "an", "object"]),
    ],
)
def test_other_apps_hosts_and_garbage_are_not_offered(
    fake: FakeProviders, tmp_path: Path, home: Path, name: str, doc: Any
) -> None:
    write(home / ".config/github-copilot" / name, doc)
    assert make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""}) == []


def test_nothing_is_offered_for_an_enterprise_login_or_unreadable_files(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    write(home / ".config/github-copilot/apps.json", apps_json("gho_saved"))
    service = make_service(fake, tmp_path, home)
    assert service.offers(PROVIDER, {"host": "ghe.example.com"}) == []
    (home / ".config/github-copilot/apps.json").write_text("{not json")
    assert service.offers(PROVIDER, {"host": ""}) == []


def test_nothing_is_offered_without_a_home_in_the_environment(fake: FakeProviders, tmp_path: Path) -> None:
    assert AuthService(make_store(tmp_path), env=fake.env()).offers(PROVIDER, {}) == []


# -- using it ----------------------------------------------------------------------------------


async def test_a_chosen_token_is_exchanged_then_saved(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    token = fake.github.seed_login("octocat")
    source = home / ".config/github-copilot/apps.json"
    before = write(source, apps_json(token))
    service = make_service(fake, tmp_path, home)
    (offer,) = service.offers(PROVIDER, {"host": ""})
    result, details = await service.use_offer(PROVIDER, offer.id)
    entry = service.store.get(PROVIDER)
    assert entry is not None
    assert entry["refresh"] == token
    assert fake.copilot.is_token_valid(entry["access"])
    assert "enterpriseUrl" not in entry
    assert result.account == "@octocat"
    assert details == ("Copilot models enabled: 4 of 4.",)
    assert fake.count("github.copilot_token") == 1
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        ("revoked", "it was revoked or has expired"),
        ("no_access", "no Copilot access for that account"),
    ],
)
async def test_a_refused_token_saves_nothing_and_leaves_the_file_alone(
    fake: FakeProviders, tmp_path: Path, home: Path, setup: str, why: str
) -> None:
    token = fake.github.seed_login("octocat")
    if setup == "revoked":
        fake.github.revoke(token)
    else:
        fake.copilot.mode = "no_access"
    source = home / ".config/github-copilot/hosts.json"
    before = write(source, {"github.com": {"user": "octocat", "oauth_token": token}})
    service = make_service(fake, tmp_path, home)
    (offer,) = service.offers(PROVIDER, {"host": ""})
    with pytest.raises(AuthError) as caught:
        await service.use_offer(PROVIDER, offer.id)
    assert str(caught.value) == (
        f"GitHub refused the token from ~/.config/github-copilot/hosts.json ({why}); nothing was saved. "
        "Log in with the device code instead."
    )
    assert token not in str(caught.value)
    assert service.store.get(PROVIDER) is None
    assert not service.store.path.exists()
    assert source.read_bytes() == before


async def test_a_refused_token_does_not_cost_the_stored_login(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    service = make_service(fake, tmp_path, home)
    stored = {
        "type": "oauth",
        "refresh": fake.github.seed_login(),
        "access": fake.copilot.seed_token(),
        "expires": 1,
    }
    service.store.put(PROVIDER, stored)
    write(home / ".config/github-copilot/apps.json", apps_json("gho_not_a_live_token"))
    (offer,) = service.offers(PROVIDER, {"host": ""})
    with pytest.raises(AuthError):
        await service.use_offer(PROVIDER, offer.id)
    assert service.store.get(PROVIDER) == stored


# -- in the app --------------------------------------------------------------------------------


def options(app: Any) -> list[str]:
    """The labels in the method choice's option list."""
    listing = app.screen.query_one(OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def open_method_choice(pilot: Any) -> None:
    await pilot.press("l")
    await wait_for_screen(pilot, "ProviderSelectScreen")
    await pilot.press("down", "enter")
    await wait_for_screen(pilot, "QuestionScreen")
    await pilot.press("enter")  # blank host: github.com
    await wait_for_screen(pilot, "MethodChoiceScreen")


async def test_the_app_offers_the_token_and_only_a_choice_uses_it(
    fake: FakeProviders, tmp_path: Path, home: Path, store: Any, clock: Any, make_app: Any
) -> None:
    token = fake.github.seed_login("octocat")
    source = home / ".config/github-copilot/apps.json"
    before = write(source, apps_json(token))
    service = AuthService(store, env={**fake.env(), "HOME": str(home)}, clock=clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_method_choice(pilot)
        assert options(app) == [
            "Device code  (default)",
            "Use the token from ~/.config/github-copilot/apps.json (@octocat)",
        ]
        assert app.screen.query_one(OptionList).highlighted == 0
        shown = flat(app)
        assert "used only if you choose it" in shown
        assert token not in shown
        assert fake.count("github.copilot_token") == 0 and not store.path.exists()
        await pilot.press("down", "enter")
        await wait_for_screen(pilot, "LoginDoneScreen")
        assert f"Logged in to GitHub Copilot as @octocat. Credentials saved to {store.path}" in flat(app)
    entry = store.get(PROVIDER)
    assert entry is not None and entry["refresh"] == token
    assert source.read_bytes() == before


async def test_the_app_says_why_a_token_was_refused_and_the_device_code_remains(
    fake: FakeProviders, tmp_path: Path, home: Path, store: Any, clock: Any, make_app: Any
) -> None:
    write(home / ".config/github-copilot/apps.json", apps_json("gho_not_a_live_token"))
    fake.github.min_poll_gap = 0.0
    service = AuthService(store, env={**fake.env(), "HOME": str(home)}, clock=clock, poll_scale=0.01)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_method_choice(pilot)
        await pilot.press("down", "enter")
        await wait_for_text(pilot, "GitHub refused the token from ~/.config/github-copilot/apps.json")
        assert options(app) == ["Device code  (default)"]
        assert not store.path.exists()
        await pilot.press("enter")
        await wait_for_screen(pilot, "DeviceCodeScreen")


# -- in `login --no-tui` -----------------------------------------------------------------------


def plain_login(tmp_path: Path, fake: FakeProviders, home: Path, *extra: str) -> subprocess.Popen[str]:
    """``pi-tui login github-copilot --no-tui`` as a real process, stdin a pipe (no terminal)."""
    env = fake.env() | {"HOME": str(home), "BROWSER": "true", "PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "login",
            PROVIDER,
            "--no-tui",
            "--agent-dir",
            str(tmp_path / "agent"),
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )


def saved_files(tmp_path: Path) -> list[str]:
    """The credential files in the test's agent directory (none before a login is saved)."""
    agent = tmp_path / "agent"
    return sorted(p.name for p in agent.glob("*.json")) if agent.exists() else []


def test_no_tui_names_the_saved_token_and_does_not_use_it_unasked(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    token = fake.github.seed_login("octocat")
    write(home / ".config/github-copilot/apps.json", apps_json(token))
    (offer,) = make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""})
    proc = plain_login(tmp_path, fake, home)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("\n")  # github.com
    proc.stdin.flush()
    lines = []
    while not lines or not lines[-1].startswith("Open this page"):
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    proc.kill()
    proc.communicate(timeout=60)
    said = "".join(lines)
    assert "Login method: Device code (--method device)." in said
    assert (
        "Found on this machine, not used unless chosen: Use the token from "
        f"~/.config/github-copilot/apps.json (@octocat) (--method {offer.id})."
    ) in said
    assert token not in said
    assert fake.count("github.copilot_token") == 0
    assert fake.count("github.device_code") == 1  # the device code was started instead
    assert saved_files(tmp_path) == []


def test_no_tui_method_uses_the_saved_token_once_github_accepts_it(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    token = fake.github.seed_login("octocat")
    source = home / ".config/github-copilot/apps.json"
    before = write(source, apps_json(token))
    (offer,) = make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""})
    proc = plain_login(tmp_path, fake, home, "--method", offer.id)
    _out, err = proc.communicate("\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Checking it with the server: Use the token from ~/.config/github-copilot/apps.json" in err
    assert "Logged in to GitHub Copilot" in err and token not in err
    assert saved_files(tmp_path) == ["auth.json"]  # a fresh agent directory gets pi's file
    entry = json.loads((tmp_path / "agent" / "auth.json").read_text())[PROVIDER]
    assert entry["refresh"] == token and fake.copilot.is_token_valid(entry["access"])
    assert fake.count("github.device_code") == 0
    assert source.read_bytes() == before


def test_no_tui_a_refused_saved_token_is_a_sentence_and_nothing_is_saved(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    write(home / ".config/github-copilot/apps.json", apps_json("gho_not_a_live_token"))
    (offer,) = make_service(fake, tmp_path, home).offers(PROVIDER, {"host": ""})
    proc = plain_login(tmp_path, fake, home, "--method", offer.id)
    _out, err = proc.communicate("\n", timeout=60)
    assert proc.returncode == 4, err
    assert err.endswith(
        "GitHub refused the token from ~/.config/github-copilot/apps.json (it was revoked or has expired); "
        "nothing was saved. Log in with the device code instead.\n"
    )
    assert saved_files(tmp_path) == []


async def test_no_tui_on_a_terminal_lists_the_saved_token_as_a_numbered_method(
    fake: FakeProviders, tmp_path: Path, home: Path
) -> None:
    """On a terminal (a real pty) the saved token is one more numbered method, chosen by number."""
    token = fake.github.seed_login("octocat")
    write(home / ".config/github-copilot/apps.json", apps_json(token))
    service = make_service(fake, tmp_path, home)
    master, slave = pty.openpty()
    err = io.StringIO()
    try:
        os.write(master, b"\n2\n")  # github.com, then the second method
        plain = PlainLogin(service, err=err, reader=LineReader(slave), opener=_no_browser)
        result = await plain.run(PROVIDER)
    finally:
        os.close(master)
        os.close(slave)
    said = err.getvalue()
    assert "  1. Device code  (default)\n" in said
    assert "  2. Use the token from ~/.config/github-copilot/apps.json (@octocat)\n" in said
    assert "It is used only if you choose it." in said
    assert result.account == "@octocat"
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["refresh"] == token
    assert fake.count("github.device_code") == 0


def _no_browser(url: str) -> Any:
    raise AssertionError(f"no link is opened for a saved token ({url})")
