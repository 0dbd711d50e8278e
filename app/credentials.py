"""Which credential wins for a provider, and where each provider stands.

Resolution order: the stored login, then the provider's environment variables in the
registry's order. Nothing here makes a network request or imports httpx; refreshing is
:class:`app.service.AuthService`'s job. Provider-specific rows come from the provider module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from app.errors import NotLoggedIn, PiTuiError, StoreError
from app.expiry import current_ms, is_due
from app.mask import mask
from app.providers import PROVIDERS, ProviderInfo, login_hint
from app.store import CredentialStore

STORED = "oauth.json"


class State(StrEnum):
    """Where a provider's login stands."""

    LOGGED_IN = "logged in"
    DUE = "expired, will refresh"
    REFRESH_FAILED = "refresh failed"
    NOT_LOGGED_IN = "not logged in"
    UNREADABLE = "store unreadable"


# NamedTuples rather than dataclasses: importing dataclasses costs ~8 ms, and this module is
# on the `pi-tui token` path.
class Resolution(NamedTuple):
    """The winning credential source for a provider and the sources it shadows."""

    provider: str
    source: str | None
    shadowed: tuple[str, ...]
    entry: dict[str, Any] | None = None
    token: str | None = None
    error: str | None = None

    def __repr__(self) -> str:
        # The entry and the token are secrets.
        return f"Resolution(provider={self.provider!r}, source={self.source!r}, shadowed={self.shadowed!r})"


def resolve(provider: ProviderInfo, store: CredentialStore, env: Mapping[str, str]) -> Resolution:
    """Find every source that has a credential; the first one wins. Makes no request."""
    sources: list[tuple[str, str | None, dict[str, Any] | None]] = []
    error = None
    try:
        entry = store.get(provider.id)
    except StoreError as exc:
        entry, error = None, str(exc)
    if entry is not None:
        sources.append((STORED, entry["access"], entry))
    sources.extend((name, env[name], None) for name in provider.env_vars if env.get(name))
    if not sources:
        return Resolution(provider.id, None, (), error=error)
    (source, token, winner), *rest = sources
    return Resolution(provider.id, source, tuple(s for s, _, _ in rest), winner, token, error)


def _missing_credential(provider: ProviderInfo, found: Resolution) -> PiTuiError:
    """The error for "no credential": a store problem (exit 3) if the store could not be read."""
    if found.error:
        return StoreError(found.error)
    return NotLoggedIn(login_hint(provider))


def ready_token(provider: ProviderInfo, found: Resolution, *, now_ms: int) -> str | None:
    """The winning token when it can be used as it is; None when the stored login is due.

    With no credential at all it raises NotLoggedIn, or StoreError when the store could not
    be read. The one rule shared by ``pi-tui token``, :class:`AuthService` and :mod:`app.api`.
    """
    if found.token is None:
        raise _missing_credential(provider, found)
    if found.entry is None or not is_due(found.entry, now_ms=now_ms):
        return found.token
    return None


def account_label(entry: dict[str, Any]) -> str | None:
    """The account to show for a stored login: its email, or ``@login``."""
    if isinstance(entry.get("email"), str):
        return str(entry["email"])
    return f"@{entry['login']}" if isinstance(entry.get("login"), str) else None


class AccountStatus(NamedTuple):
    """One provider's row in the status panel and in ``pi-tui status``. Holds no secret."""

    provider: str
    name: str
    state: State
    source: str | None = None
    shadowed: tuple[str, ...] = ()
    account: str | None = None
    expires_ms: int | None = None
    masked_token: str | None = None
    last_error: str | None = None
    # The provider's own label/value rows (e.g. Enterprise host, API base), from its module.
    rows: tuple[tuple[str, str], ...] = ()

    def to_json(self, *, now_ms: int) -> dict[str, Any]:
        """The ``pi-tui status --json`` form."""
        return {
            "provider": self.provider,
            "name": self.name,
            "state": self.state.value,
            "source": self.source,
            "shadowed": list(self.shadowed),
            "account": self.account,
            "expires": self.expires_ms,
            "expires_in_seconds": None
            if self.expires_ms is None
            else max(0, (self.expires_ms - now_ms) // 1000),
            "details": dict(self.rows),
            "token": self.masked_token,
            "error": self.last_error,
        }


def account_status(
    provider: ProviderInfo,
    store: CredentialStore,
    env: Mapping[str, str],
    *,
    now_ms: int,
    last_error: str | None = None,
) -> AccountStatus:
    """Describe one provider from the store and the environment."""
    found = resolve(provider, store, env)
    base = AccountStatus(provider.id, provider.name, State.NOT_LOGGED_IN)
    if found.source is None:
        state = State.UNREADABLE if found.error else State.NOT_LOGGED_IN
        return base._replace(state=state, last_error=found.error or last_error)
    fields: dict[str, Any] = {
        "source": found.source,
        "shadowed": found.shadowed,
        "masked_token": mask(found.token),
        "last_error": last_error or found.error,
    }
    entry = found.entry
    if entry is None:
        return base._replace(state=State.LOGGED_IN, **fields)
    if last_error:
        state = State.REFRESH_FAILED
    else:
        state = State.DUE if is_due(entry, now_ms=now_ms) else State.LOGGED_IN
    return base._replace(
        state=state,
        account=account_label(entry),
        expires_ms=int(entry["expires"]),
        rows=provider_rows(provider, entry, env),
        **fields,
    )


def provider_rows(
    provider: ProviderInfo, entry: dict[str, Any], env: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The provider module's label/value rows for a stored login (its module is light: no httpx)."""
    from app.providers import load

    module = load(provider.id)
    return tuple(module.status_rows(module.endpoints(env), entry))


def all_statuses(
    store: CredentialStore,
    env: Mapping[str, str] | None = None,
    *,
    now_ms: int | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[AccountStatus]:
    """Every provider's status, in registry order."""
    env = os.environ if env is None else env
    now_ms = current_ms() if now_ms is None else now_ms
    errors = errors or {}
    return [
        account_status(p, store, env, now_ms=now_ms, last_error=errors.get(p.id)) for p in PROVIDERS.values()
    ]
