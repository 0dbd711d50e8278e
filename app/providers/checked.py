"""mypy's check that every registered provider module satisfies the contract
(:class:`app.providers.base.Provider`); nothing imports this module at run time.

Here rather than in the registry: the modules import the registry, so there the check would sit
in an import cycle with them, and mypy, checking the cycle, does not yet know the type of a hook a
module assigns (``auth_headers = bearer``, ``usage = None``, ``test = API.test``): it would check
only that the hook is there. Out of the cycle every hook is checked, assigned or defined.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from app.providers import (
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
    from app.providers.base import Provider

    CHECKED: tuple[Provider, ...] = (
        anthropic,
        github_copilot,
        openai_codex,
        xai,
        kimi_coding,
        openrouter,
        meta,
        openai,
        radius,
    )
