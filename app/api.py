"""The library face of pi-tui: a valid token for other Python code.

``get_api_key(provider_id)`` follows pi's resolution order (the stored credential — an OAuth
login refreshed under the store lock when due, or an ``api_key`` entry — then the provider's
environment variables); ``get_credential`` also says which source won, its kind, and which
ones it shadows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.providers import provider
from app.service import AuthService, Issued, run_blocking
from app.state import BY_LIBRARY
from app.store import CredentialStore

__all__ = ["Credential", "aget_credential", "get_api_key", "get_credential", "run_blocking"]


@dataclass(frozen=True)
class Credential:
    """A usable token and where it came from. ``token`` never shows in ``repr``."""

    provider: str
    token: str = field(repr=False)
    source: str
    shadowed: tuple[str, ...] = ()
    kind: str = "oauth"


def _service(agent_dir: str | os.PathLike[str] | None, env: Mapping[str, str] | None) -> AuthService:
    env = os.environ if env is None else env
    return AuthService(CredentialStore.for_agent_dir(agent_dir, env), env=env, actor=BY_LIBRARY)


def _credential(provider_id: str, issued: Issued) -> Credential:
    found = issued.resolution
    assert found.source is not None  # the service raised NotLoggedIn otherwise
    return Credential(
        provider(provider_id).id, issued.token, found.source, found.shadowed, found.kind or "oauth"
    )


async def aget_credential(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    min_valid_ms: int = 0,
    account: str | None = None,
) -> Credential:
    """The winning credential for ``provider_id``, refreshed if due (async form).

    ``account``: another stored account of the provider (name, label or unique prefix), used
    without switching pi to it.
    """
    issued = await _service(agent_dir, env).token(provider_id, min_valid_ms=min_valid_ms, account=account)
    return _credential(provider_id, issued)


def get_credential(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    min_valid_ms: int = 0,
    account: str | None = None,
) -> Credential:
    """Blocking form of :func:`aget_credential`; safe to call from inside a running event loop."""
    issued = _service(agent_dir, env).token_sync(provider_id, min_valid_ms=min_valid_ms, account=account)
    return _credential(provider_id, issued)


def get_api_key(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    min_valid_ms: int = 0,
    account: str | None = None,
) -> str:
    """A valid token for ``provider_id`` (a registry id), refreshed if due (``account``: another
    stored account's, without switching pi)."""
    found = get_credential(
        provider_id, agent_dir=agent_dir, env=env, min_valid_ms=min_valid_ms, account=account
    )
    return found.token
