"""PiAuth, the one httpx.Auth for every provider, against the fake Anthropic API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app import PiAuth
from app.errors import NotLoggedIn
from app.service import AuthService
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
    async with httpx.AsyncClient(auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 200
    (sent,) = fake.requests_for("anthropic.messages")
    assert sent.headers["authorization"] == f"Bearer {entry['access']}"
    assert "oauth-2025-04-20" in sent.headers["anthropic-beta"]


async def test_pi_auth_refreshes_once_on_401_and_retries(service: AuthService, fake: FakeProviders) -> None:
    old = seed_anthropic(service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    fake.anthropic.expire_access_tokens()
    auth = PiAuth(service, "anthropic")
    async with httpx.AsyncClient(auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 200
    assert fake.count("anthropic.refresh") == 1 and fake.count("anthropic.messages") == 2
    stored = service.store.get("anthropic")
    assert stored is not None and stored["access"] != old["access"]


def test_pi_auth_works_with_a_blocking_client_and_from_store(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)  # due: refreshed first
    auth = PiAuth.from_store(store, "anthropic", env=fake.env())
    with httpx.Client(auth=auth, base_url=auth.base_url()) as client:
        assert client.post("/v1/messages", json=MESSAGE).status_code == 200
    assert fake.count("anthropic.refresh") == 1


def test_pi_auth_says_how_to_log_in_and_refuses_unknown_options(service: AuthService) -> None:
    with pytest.raises(NotLoggedIn, match="pi-tui login anthropic"):
        PiAuth(service, "anthropic").base_url()
    with pytest.raises(ValueError, match="take no options"):
        PiAuth(service, "anthropic", initiator="agent")
