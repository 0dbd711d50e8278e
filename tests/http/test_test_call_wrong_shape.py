"""`t` (the test call) on an answer of HTTP 200 that is not what was asked for says what was
wrong, never "failed (HTTP 200)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import AuthError
from app.expiry import NEVER_EXPIRES_MS
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, now_ms


def _service(fake: FakeProviders, tmp_path: Path, provider: str) -> AuthService:
    store = CredentialStore(tmp_path / "agent" / "auth.json")
    tokens = fake.provider(provider).seed_login()
    expires = NEVER_EXPIRES_MS if provider == "openrouter" else now_ms() + HOUR_MS
    entry = {"type": "oauth", "access": tokens["access"], "refresh": tokens["refresh"], "expires": expires}
    if provider == "openai-codex":
        entry["accountId"] = fake.codex.account_id
    store.put(provider, entry)
    return AuthService(store, env=fake.env())


@pytest.mark.parametrize(
    ("provider", "endpoint", "sentence"),
    [
        ("xai", "xai.models", "xAI answered, but not with a model list"),
        ("openai-codex", "codex.models", "OpenAI answered, but not with a model list"),
        ("openrouter", "openrouter.key", "OpenRouter answered, but not with the details pi-tui asked for"),
    ],
)
@pytest.mark.parametrize(
    "body",
    [{"object": "list"}, {"data": "none", "models": 3}, [1, 2]],
    ids=["no field", "wrong type", "a list"],
)
async def test_a_200_without_the_expected_field_says_what_was_wrong(
    fake: FakeProviders, tmp_path: Path, provider: str, endpoint: str, sentence: str, body: object
) -> None:
    service = _service(fake, tmp_path, provider)
    fake.fail(endpoint, status=200, body=body)
    with pytest.raises(AuthError) as failed:
        await service.test(provider)
    message = str(failed.value)
    assert message.startswith(sentence)
    assert "HTTP 200" not in message and "failed" not in message


async def test_an_error_status_still_names_it(fake: FakeProviders, tmp_path: Path) -> None:
    service = _service(fake, tmp_path, "xai")
    fake.fail("xai.models", status=404, body={"error": "not found"})
    with pytest.raises(AuthError, match=r"^xAI did not list its models \(HTTP 404\)\.$"):
        await service.test("xai")
