"""The provider registry: ids (pi's), display names, and where each one's protocol lives.

Light on purpose: ``pi-tui status`` reads it without importing any HTTP code. Adding a
provider is one module under ``app/oauth`` plus one entry here.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple

from app.errors import ConfigError


# NamedTuple rather than a dataclass: importing dataclasses costs ~8 ms, and this module is
# on the `pi-tui token` path.
class ProviderInfo(NamedTuple):
    """What the rest of the app needs to know about a provider without loading it."""

    id: str
    name: str
    module: str
    # Environment variables that can stand in for a stored login, in resolution order.
    env_vars: tuple[str, ...] = ()
    available: bool = True
    # Those of env_vars that hold an API key rather than an OAuth token (sent differently).
    api_key_vars: tuple[str, ...] = ()


PROVIDERS: dict[str, ProviderInfo] = {
    "anthropic": ProviderInfo(
        id="anthropic",
        name="Anthropic (Claude Pro/Max)",
        module="app.oauth.anthropic",
        env_vars=("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"),
        api_key_vars=("ANTHROPIC_API_KEY",),
    ),
    "github-copilot": ProviderInfo(
        id="github-copilot",
        name="GitHub Copilot",
        module="app.oauth.github_copilot",
    ),
}


def provider(provider_id: str) -> ProviderInfo:
    """The provider with this id, or a ConfigError listing the known ones."""
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise ConfigError(f"Unknown provider {provider_id!r}; choose one of: {known}.") from None


def load(provider_id: str) -> ModuleType:
    """Import the provider's protocol module (this is where httpx gets imported)."""
    return importlib.import_module(provider(provider_id).module)


def login_hint(info: ProviderInfo) -> str:
    """The sentence for "no credential": how to log in, and which variables would also do."""
    extra = f" (or set {' or '.join(info.env_vars)})" if info.env_vars else ""
    return f"Not logged in to {info.name}. Run `pi-tui login {info.id}`{extra}."
