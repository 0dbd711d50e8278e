"""The fake's provider configurations: adding a provider is one module here and one line below."""

from __future__ import annotations

from tests.fakes.providers import anthropic, github_copilot
from tests.fakes.spec import ProviderConfig

REGISTRY: tuple[ProviderConfig, ...] = (
    anthropic.CONFIG,
    github_copilot.GITHUB,
    github_copilot.COPILOT,
)
