"""Anthropic login, refresh, test call and resolution over real HTTP to the fake server."""

from __future__ import annotations

import asyncio
import stat
import threading
from pathlib import Path

import httpx
import pytest

from app.errors import AuthError, LoginInputError, NetworkError, NotLoggedIn, RefreshError
from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, read_doc, seed_anthropic
from tests.pi import refresh_like_pi, write_like_pi


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    return AuthService(make_store(tmp_path), env=fake.env())


async def test_login_by_pasted_code_stores_pi_entry(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("anthropic", "browser")
    try:
        code, state = fake.anthropic.authorize(login.url)
        result = await login.submit(f"  {code}#{state}\n")
    finally:
        await login.aclose()
    assert result.message == (
        "Logged in to Anthropic (Claude Pro/Max) as user@example.com. "
        f"Credentials saved to {service.store.path}"
    )
    entry = read_doc(service.store)["anthropic"]
    assert entry["type"] == "oauth" and "email" not in entry  # exactly as pi writes it
    assert service.status("anthropic").account == "user@example.com"  # from pi-tui's state file
    assert fake.anthropic.is_access_valid(entry["access"])
    assert fake.anthropic.is_refresh_valid(entry["refresh"])
    assert abs(entry["expires"] - (now_ms() + 28800 * 1000 - 5 * 60 * 1000)) < 10_000
    assert stat.S_IMODE(service.store.path.stat().st_mode) == 0o600
    assert fake.count("anthropic.exchange") == 1


async def test_login_by_loopback_callback(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("anthropic", "browser")
    assert login.listening and login.redirect_uri.startswith("http://localhost:")
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        page = await browser.get(login.url, follow_redirects=True)
    assert page.status_code == 200 and "close this tab" in page.text
    result = await asyncio.wait_for(waiter, 10)
    assert result.provider == "anthropic"
    assert service.store.get("anthropic") is not None
    assert fake.count("anthropic.exchange") == 1


async def test_callback_and_paste_of_same_code_exchange_once(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    location = fake.anthropic.redirect_for(login.url)
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        await browser.get(location.replace("localhost", "127.0.0.1"))
    result = await asyncio.wait_for(waiter, 10)
    again = await login.submit(location)
    assert again is result
    assert fake.count("anthropic.exchange") == 1


async def test_callback_with_other_state_is_ignored(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("anthropic", "browser")
    try:
        port = login.redirect_uri.split(":")[2].split("/")[0]
        async with httpx.AsyncClient(verify=client_tls()) as browser:
            page = await browser.get(f"http://127.0.0.1:{port}/callback?code=abc&state=someone-else")
        assert page.status_code == 400 and "different login attempt" in page.text
        code, state = fake.anthropic.authorize(login.url)
        await login.submit(f"{code}#{state}")
    finally:
        await login.aclose()
    assert service.store.get("anthropic") is not None


async def test_denied_callback_raises_a_sentence(service: AuthService, fake: FakeProviders) -> None:
    fake.anthropic.deny_next_authorize()
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        await browser.get(login.url, follow_redirects=True)
    with pytest.raises(LoginInputError, match="did not authorize"):
        await asyncio.wait_for(waiter, 10)
    await login.aclose()
    assert service.store.get("anthropic") is None


async def test_used_code_is_rejected_then_a_new_code_works(service: AuthService, fake: FakeProviders) -> None:
    first = await service.start_login("anthropic", "browser")
    code, state = fake.anthropic.authorize(first.url)
    await first.submit(f"{code}#{state}")
    second = await service.start_login("anthropic", "browser")
    try:
        with pytest.raises(LoginInputError, match="did not accept that code"):
            await second.submit(f"{code}#{second.pkce.state}")
        new_code, new_state = fake.anthropic.authorize(second.url)
        result = await second.submit(f"{new_code}#{new_state}")
    finally:
        await second.aclose()
    assert result.provider == "anthropic"


async def test_wrong_state_paste_makes_no_request(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("anthropic", "browser")
    try:
        code, _ = fake.anthropic.authorize(login.url)
        with pytest.raises(LoginInputError, match="different login attempt"):
            await login.submit(f"{code}#not-the-state")
    finally:
        await login.aclose()
    assert fake.count("anthropic.exchange") == 0


async def test_listener_off_keeps_default_redirect_uri(fake: FakeProviders, tmp_path: Path) -> None:
    service = AuthService(make_store(tmp_path), env={**fake.env(), "PI_TUI_CALLBACK_PORT": "off"})
    login = await service.start_login("anthropic", "browser")
    assert not login.listening
    assert login.redirect_uri == "http://localhost:53692/callback"
    code, state = fake.anthropic.authorize(login.url)
    await login.submit(f"{code}#{state}")
    assert service.store.get("anthropic") is not None


async def test_taken_callback_port_falls_back_to_ephemeral(fake: FakeProviders, tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        service = AuthService(make_store(tmp_path), env={**fake.env(), "PI_TUI_CALLBACK_PORT": str(taken)})
        login = await service.start_login("anthropic", "browser")
        try:
            assert login.listening and f":{taken}/" not in login.redirect_uri
            code, state = fake.anthropic.authorize(login.url)  # the fake checks redirect_uri equality
            await login.submit(f"{code}#{state}")
        finally:
            await login.aclose()


async def test_token_refreshes_when_due_and_keeps_other_keys(
    service: AuthService, fake: FakeProviders
) -> None:
    tokens = fake.anthropic.seed_login()
    write_like_pi(service.store.path, {"some-other-provider": {"type": "api_key", "key": "x"}})
    seed_anthropic(service.store, tokens, expires=now_ms() - 1, email="me@example.com", piExtra={"k": 1})
    token = await service.get_token("anthropic")
    assert token != tokens["access"] and fake.anthropic.is_access_valid(token)
    doc = read_doc(service.store)
    assert doc["anthropic"]["piExtra"] == {"k": 1}
    assert "email" not in doc["anthropic"]  # an old pi-tui key is not written again…
    assert service.status("anthropic").account == "user@example.com"  # …the server's answer is kept
    assert doc["some-other-provider"] == {"type": "api_key", "key": "x"}
    assert not fake.anthropic.is_refresh_valid(tokens["refresh"])
    assert fake.count("anthropic.refresh") == 1
    assert await service.get_token("anthropic") == token
    assert fake.count("anthropic.refresh") == 1


async def test_valid_token_makes_no_request(service: AuthService, fake: FakeProviders) -> None:
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() + HOUR_MS)
    assert await service.get_token("anthropic") == tokens["access"]
    assert fake.requests == []


async def test_refresh_without_new_refresh_token_keeps_the_old_one(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.anthropic.omit_refresh_token = True
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() - 1)
    await service.get_token("anthropic")
    assert service.store.get("anthropic")["refresh"] == tokens["refresh"]  # type: ignore[index]


async def test_revoked_refresh_keeps_the_stored_login(service: AuthService, fake: FakeProviders) -> None:
    tokens = fake.anthropic.seed_login()
    before = seed_anthropic(service.store, tokens, expires=now_ms() - 1)
    fake.anthropic.revoke_all()
    with pytest.raises(RefreshError) as caught:
        await service.get_token("anthropic")
    assert caught.value.revoked and "Log in again" in str(caught.value)
    assert service.store.get("anthropic") == before
    assert service.status("anthropic").state.value == "refresh failed"


async def test_invalid_grant_after_pi_rotated_the_file_uses_its_token(
    service: AuthService, fake: FakeProviders
) -> None:
    """pi itself (which does not take our lock) refreshes while our request is in flight."""
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() - 1)
    fake.set_latency("anthropic.refresh", 0.6)

    def pi_refreshes() -> None:
        entry = refresh_like_pi(fake, tokens["refresh"], expires=now_ms() + HOUR_MS)
        write_like_pi(service.store.path, {"anthropic": entry})

    thread = threading.Thread(target=pi_refreshes)
    thread.start()
    await asyncio.sleep(0.2)  # pi's request reaches the server first; ours is still in flight when it lands
    token = await service.get_token("anthropic")
    thread.join()
    assert token == service.store.get("anthropic")["access"]  # type: ignore[index]
    assert fake.anthropic.is_access_valid(token)


async def test_server_error_on_refresh_is_a_sentence_and_keeps_login(
    service: AuthService, fake: FakeProviders
) -> None:
    tokens = fake.anthropic.seed_login()
    before = seed_anthropic(service.store, tokens, expires=now_ms() - 1)
    fake.fail("anthropic.refresh", status=503, body="<html>down</html>", content_type="text/html")
    with pytest.raises(NetworkError, match="server error"):
        await service.get_token("anthropic")
    assert service.store.get("anthropic") == before


async def test_test_call_succeeds_with_oauth_headers(service: AuthService, fake: FakeProviders) -> None:
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() + HOUR_MS)
    assert (await service.test("anthropic")).startswith("OK:")
    request = fake.requests_for("anthropic.messages")[0]
    assert request.headers["authorization"] == f"Bearer {tokens['access']}"
    assert "x-api-key" not in request.headers


async def test_test_call_with_rejected_token_says_what_to_do(
    service: AuthService, fake: FakeProviders
) -> None:
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() + HOUR_MS)
    fake.anthropic.expire_access_tokens()
    with pytest.raises(AuthError, match="Press r to refresh"):
        await service.test("anthropic")


async def test_resolution_order_stored_login_shadows_env(fake: FakeProviders, tmp_path: Path) -> None:
    env = {
        **fake.env(),
        "ANTHROPIC_OAUTH_TOKEN": "sk-ant-oat01-" + "e" * 40,
        "ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 40,
    }
    service = AuthService(make_store(tmp_path), env=env)
    assert await service.get_token("anthropic") == env["ANTHROPIC_OAUTH_TOKEN"]
    status = service.status("anthropic")
    assert (status.source, status.shadowed) == ("ANTHROPIC_OAUTH_TOKEN", ("ANTHROPIC_API_KEY",))
    tokens = fake.anthropic.seed_login()
    seed_anthropic(service.store, tokens, expires=now_ms() + HOUR_MS)
    assert await service.get_token("anthropic") == tokens["access"]
    status = service.status("anthropic")
    assert status.source == "oauth.json"
    assert status.shadowed == ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY")


async def test_no_credential_says_how_to_log_in(service: AuthService) -> None:
    with pytest.raises(NotLoggedIn, match="pi-tui login anthropic"):
        await service.get_token("anthropic")


async def test_logout_removes_only_that_provider(service: AuthService, fake: FakeProviders) -> None:
    write_like_pi(
        service.store.path, {"openai": {"type": "oauth", "refresh": "r", "access": "a", "expires": 1}}
    )
    seed_anthropic(service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    assert service.logout("anthropic") is True
    assert read_doc(service.store) == {
        "openai": {"type": "oauth", "refresh": "r", "access": "a", "expires": 1}
    }
    assert service.logout("anthropic") is False


async def test_callback_with_a_malformed_code_is_refused_without_exchange(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await service.start_login("anthropic", "browser")
    waiter = asyncio.create_task(login.wait_for_callback())
    port = login.redirect_uri.split(":")[2].split("/")[0]
    async with httpx.AsyncClient(verify=client_tls()) as browser:
        await browser.get(
            f"http://127.0.0.1:{port}/callback", params={"code": "abc<script>", "state": login.pkce.state}
        )
    with pytest.raises(LoginInputError, match="doesn't look like an authorization code"):
        await asyncio.wait_for(waiter, 10)
    await login.aclose()
    assert fake.count("anthropic.exchange") == 0
