"""The fake's provider configurations: adding a provider is one module here and one line below.

A provider module defines ``CONFIG = ProviderConfig(...)`` (:mod:`tests.fakes.spec`): its name
(the endpoint-name prefix and the attribute on ``FakeProviders``), pi-tui's provider id, the
client id, ``env`` (base URL → its ``PI_TUI_*`` overrides, under its own path prefix), a
:class:`~tests.fakes.spec.TokenSpec`, and an :class:`~tests.fakes.spec.AuthCodeSpec` and/or a
:class:`~tests.fakes.spec.DeviceSpec`. The engine serves the generic OAuth endpoints from those;
quirks and API test calls are methods of a :class:`~tests.fakes.oauth.ProviderFake` subclass
named in ``fake=`` and routed by :class:`~tests.fakes.spec.RouteSpec` entries in ``routes=``.
"""

from __future__ import annotations

from tests.fakes.providers import (
    anthropic,
    github_copilot,
    kimi_coding,
    meta,
    openai,
    openai_codex,
    openrouter,
    radius,
    xai,
)
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
    openai.CONFIG,
    radius.CONFIG,
)
