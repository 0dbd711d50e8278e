"""The fake's provider configurations: adding a provider is one module here and one line below."""

from __future__ import annotations

from tests.fakes.providers import anthropic, github_copilot, kimi_coding, meta, openai_codex, openrouter, xai
from tests.fakes.spec import ProviderConfig

REGISTRY: tuple[ProviderConfig, ...] = (
    anthropic.CONFIG,
    github_copilot.GITHUB,
    github_copilot.COPILOT,
    openai_codex.CONFIG,
    xai.CONFIG,
    kimi_coding.CONFIG,
    openrouter.CONFIG,
    meta.CONFIG,
)
