"""PiAuth, the one httpx.Auth for every provider, against the fake Anthropic API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app import PiAuth
from app.errors import NotLoggedIn
from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic

MESSAGE = {
    "model": "claude-haiku-4-5",
    "max_tokens": 1,
    "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}],
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    return AuthService(make_store(tmp_path), env=fake.env())


async def test_pi_auth_signs_anthropic_requests_with_the_stored_login(
    service: AuthService, fake: FakeProviders
) -> None:
    entry = seed_anthropic(service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    auth = PiAuth(service, "anthropic")
    assert auth.base_url() == fake.base
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 200
    (sent,) = fake.requests_for("anthropic.messages")
    assert sent.headers["authorization"] == f"Bearer {entry['access']}"
    assert "oauth-2025-04-20" in sent.headers["anthropic-beta"]


async def test_pi_auth_refreshes_once_on_401_and_retries(service: AuthService, fake: FakeProviders) -> None:
    old = seed_anthropic(service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    fake.anthropic.expire_access_tokens()
    auth = PiAuth(service, "anthropic")
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 200
    assert fake.count("anthropic.refresh") == 1 and fake.count("anthropic.messages") == 2
    stored = service.store.get("anthropic")
    assert stored is not None and stored["access"] != old["access"]


def test_pi_auth_works_with_a_blocking_client_and_from_store(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)  # due: refreshed first
    auth = PiAuth.from_store(store, "anthropic", env=fake.env())
    with httpx.Client(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        assert client.post("/v1/messages", json=MESSAGE).status_code == 200
    assert fake.count("anthropic.refresh") == 1


def test_pi_auth_says_how_to_log_in_and_refuses_unknown_options(service: AuthService) -> None:
    with pytest.raises(NotLoggedIn, match="pi-tui login anthropic"):
        PiAuth(service, "anthropic").base_url()
    with pytest.raises(ValueError, match="take no options"):
        PiAuth(service, "anthropic", initiator="agent")


def _store_api_key(store_path: Path, key: str) -> None:
    import json

    store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    store_path.write_text(json.dumps({"anthropic": {"type": "api_key", "key": key}}))
    store_path.chmod(0o600)


async def test_pi_auth_sends_a_stored_api_key_the_providers_way(tmp_path: Path, fake: FakeProviders) -> None:
    # pi's api_key entry wins over the environment; whatever the key looks like, it is an API
    # key because the user stored it as one, so Anthropic gets it in x-api-key, never as Bearer.
    key = "sk-ant-oat01-stored-as-an-api-key-0000"
    fake.anthropic.api_keys.add(key)
    from app.store import CredentialStore

    service = AuthService(CredentialStore(tmp_path / "agent" / "auth.json"), env=fake.env())
    _store_api_key(service.store.path, key)
    auth = PiAuth(service, "anthropic")
    assert auth.base_url() == fake.base
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 200
    (sent,) = fake.requests_for("anthropic.messages")
    assert sent.headers["x-api-key"] == key
    assert "authorization" not in sent.headers
