"""OpenRouter: auth code on an ephemeral port and an unguessable path, a key that never expires,
"nothing to refresh", status, headers and bad input, through AuthService over real HTTP."""

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
from app.errors import AuthError, ConfigError, LoginInputError, NetworkError
from app.flows.auth_code import AuthCodeLogin
from app.service import AuthService
from app.timefmt import expiry
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import make_store, now_ms, read_doc

PROVIDER = "openrouter"
NEVER = 9007199254740991  # JavaScript's Number.MAX_SAFE_INTEGER, as pi stores it
UUID_PATH = r"/oauth/callback/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


class Clock:
    """A wall clock a test can move forward."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_service(fake: FakeProviders, tmp_path: Path, clock: Any = None, **env: str) -> AuthService:
    kwargs = {"clock": clock} if clock is not None else {}
    return AuthService(make_store(tmp_path), env={**fake.env(), **env}, **kwargs)


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    return make_service(fake, tmp_path)


def seed(service: AuthService, fake: FakeProviders) -> dict[str, Any]:
    entry = {
        "type": "oauth",
        "access": fake.openrouter.seed_login()["access"],
        "refresh": "",
        "expires": NEVER,
    }
    service.store.put(PROVIDER, entry)
    return entry


def assert_pi_entry(service: AuthService, fake: FakeProviders) -> dict[str, Any]:
    entry = read_doc(service.store)[PROVIDER]
    assert entry == {"type": "oauth", "access": entry["access"], "refresh": "", "expires": NEVER}
    assert entry["access"].startswith("sk-or-v1-") and fake.openrouter.is_access_valid(entry["access"])
    return entry


async def start(service: AuthService) -> AuthCodeLogin[Any]:
    login = await service.start_login(PROVIDER)
    assert isinstance(login, AuthCodeLogin)
    return login


async def test_login_through_the_listener(service: AuthService, fake: FakeProviders) -> None:
    login = await start(service)
    query = parse_qs(urlsplit(login.url).query)
    assert set(query) == {"callback_url", "code_challenge", "code_challenge_method"}
    assert query["code_challenge_method"] == ["S256"]
    assert re.fullmatch(rf"http://127\.0\.0\.1:\d+{UUID_PATH}", query["callback_url"][0])
    assert login.listening and login.listener is not None and login.listener.port != 0
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        # The port alone is not enough: another path on it is not the login's.
        port = login.listener.port
        stray = await browser.get(f"http://127.0.0.1:{port}/oauth/callback/guess?code=abc")
        assert stray.status_code == 404
        page = await browser.get(login.url, follow_redirects=True)
    assert page.status_code == 200 and "Signed in to OpenRouter" in page.text
    await asyncio.wait_for(waiter, 10)
    assert_pi_entry(service, fake)
    exchange = fake.requests_for("openrouter.exchange")[0]
    assert set(exchange.data) == {"code", "code_verifier", "code_challenge_method"}


@pytest.mark.parametrize("form", ["url", "query", "raw"])
async def test_login_by_paste(service: AuthService, fake: FakeProviders, form: str) -> None:
    login = await start(service)
    try:
        location = fake.openrouter.redirect_for(login.url)
        code = parse_qs(urlsplit(location).query)["code"][0]
        pasted = {"url": location, "query": f"code={code}", "raw": code}[form]
        await login.submit(pasted)
    finally:
        await login.aclose()
    assert_pi_entry(service, fake)


async def test_each_login_has_its_own_path(service: AuthService) -> None:
    first, second = await start(service), await start(service)
    try:
        assert urlsplit(first.redirect_uri).path != urlsplit(second.redirect_uri).path
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_failed_bind_is_fatal(fake: FakeProviders, tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        service = make_service(fake, tmp_path, PI_TUI_CALLBACK_PORT=str(taken))
        with pytest.raises(AuthError, match=rf"could not listen on port {taken} of 127\.0\.0\.1 and ::1"):
            await service.start_login(PROVIDER)


async def test_login_times_out_after_five_minutes(fake: FakeProviders, tmp_path: Path) -> None:
    clock = Clock()
    service = make_service(fake, tmp_path, clock)
    login = await start(service)
    location = fake.openrouter.redirect_for(login.url)
    clock.now += 301
    try:
        with pytest.raises(AuthError, match="more than 5 minutes old"):
            await login.submit(location)
        with pytest.raises(AuthError, match="more than 5 minutes old"):
            await login.wait_for_callback()
    finally:
        await login.aclose()
    assert service.store.get(PROVIDER) is None and fake.count("openrouter.exchange") == 0


async def test_answer_without_key_is_a_sentence_and_loses_nothing(
    service: AuthService, fake: FakeProviders
) -> None:
    before = seed(service, fake)
    fake.openrouter.omit_token_fields = ["key"]
    login = await start(service)
    try:
        with pytest.raises(NetworkError, match="had no API key; nothing was saved"):
            await login.submit(fake.openrouter.redirect_for(login.url))
    finally:
        await login.aclose()
    assert service.store.get(PROVIDER) == before


async def test_used_code_is_a_sentence(service: AuthService, fake: FakeProviders) -> None:
    login = await start(service)
    location = fake.openrouter.redirect_for(login.url)
    await login.submit(location)
    again = await start(service)
    try:
        with pytest.raises(LoginInputError, match="rejected that code"):
            await again.submit(location)
    finally:
        await again.aclose()


async def test_nothing_to_refresh_and_the_panel_says_does_not_expire(
    service: AuthService, fake: FakeProviders
) -> None:
    before = seed(service, fake)
    with pytest.raises(
        AuthError, match=r"^Nothing to refresh for OpenRouter OAuth: its login does not expire\.$"
    ):
        await service.refresh(PROVIDER)
    status = service.status(PROVIDER)
    assert status.state.value == "logged in" and status.last_error is None
    assert expiry(status.expires_ms, now_ms()) == "does not expire"
    assert await service.get_token(PROVIDER) == before["access"]
    assert service.store.get(PROVIDER) == before and fake.requests == []
    shown = repr(status.to_json(now_ms=now_ms())) + repr(status)
    assert before["access"] not in shown


async def test_pi_auth_and_test_call(
    service: AuthService, fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    entry = seed(service, fake)
    auth = PiAuth(service, PROVIDER)
    assert auth.base_url() == f"{fake.base}/openrouter/api/v1"
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.get("/models/user")
    assert response.status_code == 200
    assert fake.requests_for("openrouter.models")[0].headers["authorization"] == f"Bearer {entry['access']}"
    assert await service.test(PROVIDER) == "OK: OpenRouter accepts the key (no credit limit)."
    fake.openrouter.revoke_all()
    with pytest.raises(AuthError, match="rejected the key") as caught:
        await service.test(PROVIDER)
    assert entry["access"] not in caplog.text + str(caught.value)


def test_a_base_that_is_not_https_is_refused(fake: FakeProviders, tmp_path: Path) -> None:
    service = make_service(fake, tmp_path, PI_TUI_OPENROUTER_URL="file:///etc/passwd")
    with pytest.raises(ConfigError, match="PI_TUI_OPENROUTER_URL must"):
        service.endpoints(PROVIDER)
