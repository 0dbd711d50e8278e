"""Sign in with ChatGPT (``openai``): the client registered per login, pi's deviceId, pi's entry.

Over real HTTP to the loopback fake, which is strict where OpenAI is: the exchange and every
refresh must use the client id the redirect named and carry ``resource``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from app.errors import AuthError, ConfigError, LoginInputError, RefreshError
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders

NOW = 1_800_000_000.0
OTHER_SETTINGS = {"theme": "light", "packages": ["npm:pi-x"], "retry": {"enabled": False}}


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return tmp_path / "agent"


@pytest.fixture
def service(fake: FakeProviders, agent: Path) -> AuthService:
    return AuthService(CredentialStore(agent / "auth.json"), env=fake.env(), clock=lambda: NOW)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def paste_login(service: AuthService, fake: FakeProviders) -> Any:
    login: Any = await service.start_login("openai", "browser")
    try:
        return await login.submit(fake.chatgpt.redirect_for(login.url))
    finally:
        await login.aclose()


async def test_entry_is_pis_with_the_issued_client_and_the_email_moves_to_pi_tuis_state(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.chatgpt.account = "ada@example.com"
    result = await paste_login(service, fake)
    entry = service.store.get("openai")
    assert entry is not None
    assert set(entry) == {"type", "access", "refresh", "expires", "clientId", "scopes"}
    assert entry["clientId"].startswith("app_dyn_") and entry["clientId"] != "dynamic_agent_client"
    assert entry["expires"] == int(NOW * 1000) + 3600 * 1000 - 3 * 60 * 1000
    assert "chatgpt.tokens.use.direct" in entry["scopes"] and isinstance(entry["scopes"], list)
    assert result.account == "ada@example.com" == service.status("openai").account
    # The refresh uses the stored clientId (the fake refuses any other) and replaces the entry.
    await service.refresh("openai")
    renewed = service.store.get("openai")
    assert renewed is not None and renewed["clientId"] == entry["clientId"]
    assert renewed["refresh"] != entry["refresh"]


async def test_the_link_carries_pis_parameters_and_the_agent_host_id(
    service: AuthService, fake: FakeProviders, agent: Path
) -> None:
    login: Any = await service.start_login("openai", "browser")
    await login.aclose()
    params = query(login.url)
    device_id = json.loads((agent / "settings.json").read_text())["deviceId"]
    assert params["ext_agent_host_id"] == f"urn:uuid:{device_id}"
    assert params["client_id"] == "dynamic_agent_client" and params["agent_name_hint"] == "Pi"
    assert params["resource"] == "https://api.openai.com/v1" and params["nonce"]
    assert urlsplit(params["redirect_uri"]).hostname == "127.0.0.1"
    assert params["state"] != login.pkce.verifier


async def test_pis_device_id_is_used_and_settings_json_is_not_rewritten(
    service: AuthService, fake: FakeProviders, agent: Path
) -> None:
    agent.mkdir()
    pis = str(uuid.uuid4())
    (agent / "settings.json").write_text(json.dumps({**OTHER_SETTINGS, "deviceId": pis}, indent=2))
    before = (agent / "settings.json").read_bytes()
    await paste_login(service, fake)
    assert fake.chatgpt.host_ids == [f"urn:uuid:{pis}"]
    assert (agent / "settings.json").read_bytes() == before


async def test_a_missing_device_id_is_added_under_pis_lock_keeping_every_other_setting(
    service: AuthService, fake: FakeProviders, agent: Path
) -> None:
    agent.mkdir()
    settings = agent / "settings.json"
    settings.write_text(json.dumps(OTHER_SETTINGS, indent=2))
    os.chmod(settings, 0o644)
    lock = agent / "settings.json.lock"
    lock.mkdir()  # pi holds its settings lock a moment longer
    released: list[float] = []

    def release() -> None:
        time.sleep(0.4)
        released.append(time.monotonic())
        lock.rmdir()

    threading.Thread(target=release).start()
    login: Any = await service.start_login("openai", "browser")
    await login.aclose()
    assert released, "the device id was written while pi held the settings lock"
    doc = json.loads(settings.read_text())
    device_id = doc.pop("deviceId")
    assert doc == OTHER_SETTINGS and uuid.UUID(device_id)
    assert query(login.url)["ext_agent_host_id"] == f"urn:uuid:{device_id}"
    assert not lock.exists() and os.stat(settings).st_mode & 0o777 == 0o644
    # The next login uses the same id: never a second one.
    again: Any = await service.start_login("openai", "browser")
    await again.aclose()
    assert query(again.url)["ext_agent_host_id"] == f"urn:uuid:{device_id}"


@pytest.mark.parametrize("content", ["{not json", '{"deviceId": "not-a-uuid"}', "[]"])
async def test_a_settings_file_pi_cannot_use_is_a_sentence_and_left_alone(
    service: AuthService, agent: Path, content: str
) -> None:
    agent.mkdir()
    (agent / "settings.json").write_text(content)
    with pytest.raises(ConfigError) as caught:
        await service.start_login("openai", "browser")
    assert "settings.json" in str(caught.value) and "\n" not in str(caught.value)
    assert (agent / "settings.json").read_text() == content


async def test_a_grant_without_direct_token_use_is_refused_and_nothing_saved(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.chatgpt.grant_scope = "openid profile email offline_access resource.invoke"
    with pytest.raises(AuthError, match=r"chatgpt\.tokens\.use\.direct"):
        await paste_login(service, fake)
    assert service.store.entry("openai") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda url: url.split("?")[1], "whole address"),  # the query alone, not the URL
        (lambda url: url.replace("&client_id=", "&other="), "client_id"),
        (lambda url: url.replace("http://127.0.0.1:", "http://localhost:"), "whole address"),
    ],
    ids=["no-url", "no-client-id", "another-redirect"],
)
async def test_a_paste_must_be_the_whole_redirect_url_with_the_issued_client(
    service: AuthService, fake: FakeProviders, change: Any, message: str
) -> None:
    login: Any = await service.start_login("openai", "browser")
    try:
        redirect = fake.chatgpt.redirect_for(login.url)
        with pytest.raises(LoginInputError, match=message):
            await login.submit(change(redirect))
        assert service.store.entry("openai") is None
        await login.submit(redirect)  # the same login still completes
    finally:
        await login.aclose()
    assert fake.count("chatgpt.exchange") == 1


async def test_the_callback_without_an_issued_client_fails_with_a_sentence(
    service: AuthService, fake: FakeProviders
) -> None:
    login: Any = await service.start_login("openai", "browser")
    try:
        redirect = fake.chatgpt.redirect_for(login.url).replace("&client_id=", "&other=")
        async with httpx.AsyncClient(verify=client_tls()) as browser:
            page = await browser.get(redirect)
        assert page.status_code == 502
        with pytest.raises(LoginInputError, match="client_id"):
            await login.wait_for_callback()
    finally:
        await login.aclose()
    assert fake.count("chatgpt.exchange") == 0


async def test_port_taken_is_one_sentence_and_the_redirect_url_can_be_pasted(
    fake: FakeProviders, agent: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = fake.env() | {"PI_TUI_CALLBACK_PORT": str(port)}
        service = AuthService(CredentialStore(agent / "auth.json"), env=env)
        login: Any = await service.start_login("openai", "browser")
        try:
            assert not login.listening
            assert f"Port {port} is in use" in login.bind_error and "\n" not in login.bind_error
            assert "redirect URL" in login.spec.prompt and "code the page" not in login.spec.prompt
            assert query(login.url)["redirect_uri"] == f"http://127.0.0.1:{port}/auth/callback"
            await login.submit(fake.chatgpt.redirect_for(login.url))
        finally:
            await login.aclose()
    assert service.store.get("openai") is not None


async def test_the_fake_is_strict_about_the_issued_client_and_resource(fake: FakeProviders) -> None:
    url = "/openai/api/accounts/oauth/token"

    def code() -> tuple[str, str]:
        from tests.fakes.wire import pkce_challenge

        verifier = "v" * 43
        params = {
            "client_id": "dynamic_agent_client",
            "response_type": "code",
            "agent_name_hint": "Pi",
            "ext_agent_host_id": f"urn:uuid:{uuid.uuid4()}",
            "resource": "https://api.openai.com/v1",
            "nonce": "n",
            "scope": "openid email offline_access resource.invoke chatgpt.tokens.use.direct",
            "state": "s",
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "redirect_uri": "http://127.0.0.1:1455/auth/callback",
        }
        from urllib.parse import urlencode

        back = query(fake.chatgpt.redirect_for("/?" + urlencode(params)))
        return back["code"], back["client_id"]

    body = {"grant_type": "authorization_code", "code_verifier": "v" * 43}
    body |= {"redirect_uri": "http://127.0.0.1:1455/auth/callback", "resource": "https://api.openai.com/v1"}
    async with httpx.AsyncClient(verify=client_tls(), base_url=fake.base) as client:
        first, _ = code()
        wrong = await client.post(url, data=body | {"code": first, "client_id": "dynamic_agent_client"})
        assert wrong.json()["error"] == "invalid_client"
        second, issued = code()
        no_resource = {k: v for k, v in body.items() if k != "resource"}
        refused = await client.post(url, data=no_resource | {"code": second, "client_id": issued})
        assert refused.json()["error"] == "invalid_target"
        third, issued = code()
        ok = await client.post(url, data=body | {"code": third, "client_id": issued})
        assert ok.status_code == 200 and ok.json()["id_token"]
        refresh = {"grant_type": "refresh_token", "refresh_token": ok.json()["refresh_token"]}
        other = await client.post(
            url, data=refresh | {"client_id": "app_dyn_other", "resource": body["resource"]}
        )
        assert other.json()["error"] == "invalid_client"


async def test_a_login_without_a_stored_client_cannot_refresh_and_says_log_in_again(
    service: AuthService,
) -> None:
    entry = {"type": "oauth", "access": "a" * 40, "refresh": "r" * 40, "expires": 1, "scopes": []}
    service.store.put("openai", entry)
    with pytest.raises(RefreshError) as caught:
        await service.refresh("openai")
    assert "log in again" in str(caught.value).lower() and "clientId" in str(caught.value)
    assert service.store.get("openai") == entry
