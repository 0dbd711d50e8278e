"""The library face of pi-tui: a valid token for other Python code.

``get_api_key(provider_id)`` follows pi's resolution order (the stored credential — an OAuth
login refreshed under the store lock when due, or an ``api_key`` entry — then the provider's
environment variables); ``get_credential`` also says which source won, its kind, and which
ones it shadows.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.credentials import ready_token, resolve
from app.expiry import current_ms
from app.providers import provider
from app.store import CredentialStore

T = TypeVar("T")


@dataclass(frozen=True)
class Credential:
    """A usable token and where it came from. ``token`` never shows in ``repr``."""

    provider: str
    token: str = field(repr=False)
    source: str
    shadowed: tuple[str, ...] = ()
    kind: str = "oauth"


async def aget_credential(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Credential:
    """The winning credential for ``provider_id``, refreshed if due (async form)."""
    env = os.environ if env is None else env
    store = CredentialStore.for_agent_dir(agent_dir, env)
    info = provider(provider_id, store.path.parent)
    found = resolve(info, store, env, for_token=True)
    token = ready_token(info, found, now_ms=current_ms())
    if token is None:
        from app.service import AuthService
        from app.state import BY_LIBRARY

        token = await AuthService(store, env=env, actor=BY_LIBRARY).get_token(info.id)
    assert found.source is not None  # ready_token raised otherwise
    return Credential(info.id, token, found.source, found.shadowed, found.kind or "oauth")


def get_credential(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Credential:
    """Blocking form of :func:`aget_credential`; safe to call from inside a running event loop."""
    return run_blocking(aget_credential(provider_id, agent_dir=agent_dir, env=env))


def get_api_key(
    provider_id: str,
    *,
    agent_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """A valid token for ``provider_id`` (a registry id), refreshed if due."""
    return get_credential(provider_id, agent_dir=agent_dir, env=env).token


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion; inside a running event loop, on a private loop in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code: run on a private loop in a thread instead of nesting loops.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="pi-tui-get-api-key")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
