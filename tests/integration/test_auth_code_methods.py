"""Anthropic's two auth-code methods, the default between them, and what the callback page says,
over real HTTP to the fake server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app import providers
from app.errors import LoginInputError
from app.providers import anthropic
from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import make_store


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    return AuthService(make_store(tmp_path), env=fake.env())


async def test_copy_code_redirects_to_anthropics_page_and_listens_nowhere(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await service.start_login("anthropic", "copy_code")
    assert not login.listening
    assert login.redirect_uri == "https://platform.claude.com/oauth/code/callback"
    query = parse_qs(urlsplit(login.url).query)
    assert query["redirect_uri"] == [login.redirect_uri]
    assert query["state"] != [login.pkce.verifier]  # pi-tui's own state, never the verifier
    code, state = fake.anthropic.authorize(login.url)
    result = await login.submit(f"{code}#{state}")
    assert result.provider == "anthropic" and service.store.get("anthropic") is not None
    (exchange,) = fake.requests_for("anthropic.exchange")
    assert exchange.data["redirect_uri"] == "https://platform.claude.com/oauth/code/callback"
    assert exchange.data["state"] == state


async def test_copy_code_refuses_a_code_from_another_attempt(
    service: AuthService, fake: FakeProviders
) -> None:
    first = await service.start_login("anthropic", "copy_code")
    second = await service.start_login("anthropic", "copy_code")
    code, state = fake.anthropic.authorize(first.url)
    with pytest.raises(LoginInputError, match="different login attempt"):
        await second.submit(f"{code}#{state}")
    assert fake.count("anthropic.exchange") == 0


@pytest.mark.parametrize(
    ("env", "method"),
    [
        ({"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22", "DISPLAY": ":0"}, "copy_code"),
        ({"SSH_TTY": "/dev/pts/3", "BROWSER": "firefox"}, "copy_code"),
        ({"DISPLAY": ":0"}, "browser"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "browser"),
        ({"BROWSER": "firefox"}, "browser"),
    ],
)
def test_default_method_is_copy_code_where_no_browser_opens(env: dict[str, str], method: str) -> None:
    assert providers.default_method(providers.provider("anthropic"), env).id == method


def test_without_gui_or_browser_linux_defaults_to_copy_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert providers.default_method(providers.provider("anthropic"), {}).id == "copy_code"
    # One method only: that one, whatever the environment.
    assert providers.default_method(providers.provider("github-copilot"), {}).id == "device"


async def test_callback_page_says_signed_in_only_after_the_exchange(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        page = await browser.get(login.url, follow_redirects=True)
    assert page.status_code == 200
    assert "Signed in to Anthropic. You can close this tab." in page.text
    assert page.headers["cache-control"] == "no-store"
    # By the time the browser has its answer, the login is stored.
    assert service.store.get("anthropic") is not None
    assert (await asyncio.wait_for(waiter, 10)).provider == "anthropic"
    await login.aclose()


async def test_callback_page_says_the_login_failed_when_the_exchange_does(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("anthropic.exchange", status=400, body={"error": "invalid_grant"})
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        page = await browser.get(login.url, follow_redirects=True)
    assert page.status_code == 502
    assert "Anthropic login failed: Anthropic did not accept that code" in page.text
    assert "See the terminal." in page.text
    with pytest.raises(LoginInputError, match="did not accept that code"):
        await asyncio.wait_for(waiter, 10)
    assert service.store.get("anthropic") is None
    await login.aclose()


def test_api_key_is_sent_as_x_api_key_and_oauth_token_as_bearer() -> None:
    key = anthropic.api_headers("sk-ant-api03-" + "k" * 40)
    assert key["x-api-key"].startswith("sk-ant-api03-") and "Authorization" not in key
    oauth = anthropic.api_headers("sk-ant-oat01-" + "a" * 40)
    assert oauth["Authorization"].startswith("Bearer sk-ant-oat01-") and "x-api-key" not in oauth
    assert "oauth-2025-04-20" in oauth["anthropic-beta"] and oauth["x-app"] == "cli"
