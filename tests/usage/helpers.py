"""Seeded logins for the usage tests: one live login per provider, written straight into auth.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.store import CredentialStore
from tests.fakes.server import FakeProviders

FAR = 4_102_444_800_000  # 2100: never due during a test
WITH_USAGE = ("anthropic", "github-copilot", "openai-codex", "kimi-coding", "openrouter")
# The usage endpoint each provider's fetch calls once (OpenRouter: /key and /credits).
USAGE_ENDPOINTS = {
    "anthropic": ("anthropic.usage",),
    "github-copilot": ("github.usage",),
    "openai-codex": ("codex.usage",),
    "kimi-coding": ("kimi.usage",),
    "openrouter": ("openrouter.key", "openrouter.credits"),
}


def store_in(tmp_path: Path) -> CredentialStore:
    """auth.json in ``tmp_path/agent``."""
    return CredentialStore(tmp_path / "agent" / "auth.json", lock_timeout=10.0)


def seed(fake: FakeProviders, store: CredentialStore, provider_id: str) -> dict[str, Any]:
    """A live login of ``provider_id`` with the fake's tokens, stored as pi stores it."""
    if provider_id == "github-copilot":
        entry = {"refresh": fake.github.seed_login("octocat"), "access": fake.copilot.seed_token()}
    else:
        tokens = fake.provider(provider_id).seed_login()
        entry = {"access": tokens["access"], "refresh": tokens["refresh"] or tokens["access"]}
    entry = {"type": "oauth", **entry, "expires": FAR}
    store.put(provider_id, entry)
    return entry


def seed_all(fake: FakeProviders, store: CredentialStore, *extra: str) -> dict[str, dict[str, Any]]:
    """Every provider with a usage hook logged in (and ``extra`` ones, e.g. one without a hook)."""
    return {provider_id: seed(fake, store, provider_id) for provider_id in (*WITH_USAGE, *extra)}


def usage_requests(fake: FakeProviders) -> dict[str, int]:
    """How many usage requests each provider's fake received."""
    return {p: sum(fake.count(name) for name in names) for p, names in USAGE_ENDPOINTS.items()}
