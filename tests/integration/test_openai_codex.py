"""OpenAI Codex: browser (listener and paste), device code, refresh, status, headers and bad input,
through AuthService over real HTTP to the loopback fake."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app import PiAuth
from app.errors import AuthError, ConfigError, DeviceFlowError, LoginInputError, NetworkError, RefreshError
from app.flows.device import DeviceLogin
from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, read_doc

PROVIDER = "openai-codex"
LIFETIME_MS = 864000 * 1000  # the fake's expires_in


def make_service(fake: FakeProviders, tmp_path: Path, **env: str) -> AuthService:
    # Port 0: never the real 1455, so two suite runs (or a Codex CLI) cannot collide.
    overrides = {"PI_TUI_CALLBACK_PORT": "0", **env}
    return AuthService(make_store(tmp_path), env={**fake.env(), **overrides}, poll_scale=0.01)


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    fake.codex.min_poll_gap = 0
    return make_service(fake, tmp_path)


def seed(service: AuthService, fake: FakeProviders, *, expires: int) -> dict[str, Any]:
    tokens = fake.codex.seed_login()
    entry = {
        "type": "oauth",
        "access": tokens["access"],
        "refresh": tokens["refresh"],
        "expires": expires,
        "accountId": fake.codex.account_id,
    }
    service.store.put(PROVIDER, entry)
    return entry


def assert_pi_entry(service: AuthService, fake: FakeProviders) -> dict[str, Any]:
    entry = read_doc(service.store)[PROVIDER]
    assert set(entry) == {"type", "access", "refresh", "expires", "accountId"}
    assert entry["type"] == "oauth" and entry["accountId"] == fake.codex.account_id
    assert fake.codex.is_access_valid(entry["access"]) and fake.codex.is_refresh_valid(entry["refresh"])
    # No buffer: expires is exactly expires_in from the exchange.
    assert abs(entry["expires"] - (now_ms() + LIFETIME_MS)) < 10_000
    return entry


async def test_browser_login_through_the_listener(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER, "browser")
    assert login.kind == "auth_code" and login.listening and not login.bind_error
    query = parse_qs(urlsplit(login.url).query)
    assert re.fullmatch(r"[0-9a-f]{32}", query["state"][0])
    assert query["originator"] == ["pi"] and query["codex_cli_simplified_flow"] == ["true"]
    assert query["id_token_add_organizations"] == ["true"]
    assert re.fullmatch(r"http://localhost:\d+/auth/callback", query["redirect_uri"][0])
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        page = await browser.get(login.url, follow_redirects=True)
    assert page.status_code == 200 and "Signed in to OpenAI" in page.text
    result = await asyncio.wait_for(waiter, 10)
    assert result.provider == PROVIDER
    assert_pi_entry(service, fake)
    exchange = fake.requests_for("codex.exchange")[0]
    assert "form-urlencoded" in exchange.headers["content-type"]


async def test_browser_login_by_pasted_redirect_url(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER, "browser")
    try:
        location = fake.codex.redirect_for(login.url)
        with pytest.raises(LoginInputError, match="different login attempt"):
            await login.submit(location.replace("state=", "state=0"))
        await login.submit(f"  {location}\n")
    finally:
        await login.aclose()
    assert_pi_entry(service, fake)
    assert fake.count("codex.exchange") == 1


async def test_taken_port_says_so_and_paste_works(fake: FakeProviders, tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        service = make_service(fake, tmp_path, PI_TUI_CALLBACK_PORT=str(taken))
        login = await service.start_login(PROVIDER, "browser")
        try:
            assert not login.listening
            assert login.bind_error == (
                f"Port {taken} is in use (the Codex CLI uses it too), so the browser cannot come back "
                "to pi-tui by itself."
            )
            # No ephemeral fallback: the redirect stays on the taken port.
            assert login.redirect_uri == f"http://localhost:{taken}/auth/callback"
            await login.submit(fake.codex.redirect_for(login.url))
        finally:
            await login.aclose()
    assert_pi_entry(service, fake)


async def test_default_redirect_is_pis_constant(fake: FakeProviders, tmp_path: Path) -> None:
    service = make_service(fake, tmp_path, PI_TUI_CALLBACK_PORT="off")
    login = await service.start_login(PROVIDER, "browser")
    assert not login.listening and not login.bind_error
    assert login.redirect_uri == "http://localhost:1455/auth/callback"
    await login.submit(fake.codex.redirect_for(login.url))
    assert_pi_entry(service, fake)


async def run_device(login: DeviceLogin[Any], fake: FakeProviders) -> list[str]:
    kinds = []
    async for event in login.poll():
        kinds.append(event.kind)
        if event.kind == "waiting" and kinds.count("waiting") == 1:
            fake.codex.approve()
    return kinds


async def test_device_code_login(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER, "device_code")
    assert isinstance(login, DeviceLogin)
    assert login.verification_uri == f"{fake.base}/openai/codex/device"
    assert login.user_code == fake.codex.latest_user_code
    assert login.interval == 5.0  # the fake sends "5", a numeric string
    assert login.expires_at_ms is not None and abs(login.expires_at_ms - (now_ms() + 900_000)) < 10_000
    kinds = await run_device(login, fake)
    assert kinds == ["waiting", "done"]
    assert_pi_entry(service, fake)
    started = fake.requests_for("codex.device_code")[0]
    assert started.data == {"client_id": "app_EMoamEEZ73f0CkXaXp7hrann"}
    exchange = fake.requests_for("codex.exchange")[0]
    assert exchange.data["redirect_uri"] == f"{fake.base}/openai/deviceauth/callback"


async def test_device_login_denied_is_a_sentence(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER, "device_code")
    assert isinstance(login, DeviceLogin)
    fake.codex.deny()
    with pytest.raises(DeviceFlowError, match="denied"):
        await run_device(login, fake)
    assert service.store.get(PROVIDER) is None


async def test_device_login_disabled_is_a_sentence(service: AuthService, fake: FakeProviders) -> None:
    fake.codex.device_enabled = False
    with pytest.raises(DeviceFlowError, match="device code login is not enabled for this server"):
        await service.start_login(PROVIDER, "device_code")


async def test_non_numeric_interval_is_a_sentence(service: AuthService, fake: FakeProviders) -> None:
    fake.codex.interval = "soon"
    with pytest.raises(DeviceFlowError, match=r"poll interval that is not a number \('soon'\)"):
        await service.start_login(PROVIDER, "device_code")
    assert fake.count("codex.poll") == 0


async def test_refresh_rotates_and_keeps_pis_shape(service: AuthService, fake: FakeProviders) -> None:
    old = seed(service, fake, expires=now_ms() - 1)
    token = await service.get_token(PROVIDER)
    assert token != old["access"]
    entry = assert_pi_entry(service, fake)
    assert entry["refresh"] != old["refresh"] and not fake.codex.is_refresh_valid(old["refresh"])
    body = fake.requests_for("codex.refresh")[0].data
    assert body == {
        "grant_type": "refresh_token",
        "refresh_token": old["refresh"],
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
    }


async def test_revoked_refresh_keeps_the_login(service: AuthService, fake: FakeProviders) -> None:
    before = seed(service, fake, expires=now_ms() - 1)
    fake.codex.revoke_all()
    with pytest.raises(RefreshError, match="Log in again") as caught:
        await service.get_token(PROVIDER)
    assert caught.value.revoked
    assert service.store.get(PROVIDER) == before
    assert service.status(PROVIDER).state.value == "refresh failed"


async def test_refresh_without_a_new_refresh_token_is_refused(
    service: AuthService, fake: FakeProviders
) -> None:
    before = seed(service, fake, expires=now_ms() - 1)
    fake.codex.omit_refresh_token = True
    with pytest.raises(RefreshError, match="no refresh token"):
        await service.get_token(PROVIDER)
    assert service.store.get(PROVIDER) == before


@pytest.mark.parametrize(
    ("setting", "value", "sentence"),
    [
        ("omit_token_fields", ["refresh_token"], "had no refresh token"),
        ("omit_token_fields", ["access_token"], "had no access token"),
        ("omit_token_fields", ["expires_in"], "did not say when the token expires"),
        ("expires_in", "soon", "did not say when the token expires"),
        ("account_id", None, "names no ChatGPT account"),
    ],
)
async def test_bad_token_answer_is_a_sentence_and_loses_nothing(
    service: AuthService, fake: FakeProviders, setting: str, value: Any, sentence: str
) -> None:
    before = seed(service, fake, expires=now_ms() + HOUR_MS)
    setattr(fake.codex, setting, value)
    login = await service.start_login(PROVIDER, "browser")
    try:
        with pytest.raises(AuthError, match=sentence) as caught:
            await login.submit(fake.codex.redirect_for(login.url))
    finally:
        await login.aclose()
    assert "nothing was saved" in str(caught.value)
    assert service.store.get(PROVIDER) == before


async def test_status_rows_mask_the_account_and_the_token(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(service, fake, expires=now_ms() + HOUR_MS)
    status = service.status(PROVIDER)
    account = fake.codex.account_id
    assert account is not None
    assert status.rows == (("ChatGPT account", f"{account[:5]}…{account[-4:]}"),)
    shown = repr(status.to_json(now_ms=now_ms())) + repr(status)
    assert account not in shown and entry["access"] not in shown and entry["refresh"] not in shown


async def test_pi_auth_sets_codex_headers_and_test_call(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(service, fake, expires=now_ms() + HOUR_MS)
    auth = PiAuth(service, PROVIDER)
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.get("/wham/usage")
    assert response.status_code == 200 and response.json()["plan_type"] == "plus"
    sent = fake.requests_for("codex.usage")[0].headers
    assert sent["authorization"] == f"Bearer {entry['access']}"
    assert sent["chatgpt-account-id"] == fake.codex.account_id
    assert sent["originator"] == "pi"
    assert re.fullmatch(r"pi/1\.6\.0 \(\w+; python/[\d.]+\w*; \w+\)", sent["user-agent"])
    assert await service.test(PROVIDER) == "OK: 2 Codex models available."


async def test_expired_token_test_call_says_refresh(service: AuthService, fake: FakeProviders) -> None:
    seed(service, fake, expires=now_ms() + HOUR_MS)
    fake.codex.expire_access_tokens()
    with pytest.raises(AuthError, match="Press r to refresh"):
        await service.test(PROVIDER)


async def test_no_token_in_logs_or_errors(
    service: AuthService, fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seed(service, fake, expires=now_ms() - 1)
    await service.get_token(PROVIDER)
    entry = read_doc(service.store)[PROVIDER]
    fake.codex.revoke_all()
    with pytest.raises(RefreshError) as caught:
        await service.refresh(PROVIDER)
    text = caplog.text + str(caught.value)
    assert "refreshed openai-codex" in text
    assert entry["access"] not in text and entry["refresh"] not in text
    assert entry["access"][-40:] not in text


def test_an_authorize_base_that_is_not_https_is_refused(fake: FakeProviders, tmp_path: Path) -> None:
    service = make_service(fake, tmp_path, PI_TUI_OPENAI_AUTH_URL="javascript:alert(1)")
    with pytest.raises(ConfigError, match="PI_TUI_OPENAI_AUTH_URL must"):
        service.endpoints(PROVIDER)


async def test_network_failure_in_the_exchange_is_a_sentence(fake: FakeProviders, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    service = make_service(fake, tmp_path, PI_TUI_OPENAI_AUTH_URL=dead)
    login = await service.start_login(PROVIDER, "browser")
    try:
        with pytest.raises(NetworkError, match="Could not reach OpenAI"):
            await login.submit("abc123")
    finally:
        await login.aclose()
