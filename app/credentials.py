"""Which credential wins for a provider, and where each provider stands.

Resolution order, as pi 1.x: the stored credential (an OAuth login, refreshed if due, or one
of pi's ``api_key`` entries), then the provider's environment variables in the registry's
order, then an error saying how to log in. A stored credential that cannot be used is an
error, not a reason to fall back (pi does not). Nothing here makes a network request or
imports httpx; refreshing is :class:`app.service.AuthService`'s job. A ``!command`` key runs
only when a token is asked for (``resolve(..., for_token=True)``), never for ``status``.
Provider-specific rows come from the provider module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from app.errors import ConfigError, NotLoggedIn, PiTuiError, StoreError
from app.expiry import current_ms, is_due
from app.mask import mask
from app.providers import PROVIDERS, ProviderInfo, login_hint
from app.store import API_KEY, OAUTH, CredentialStore

# The source name of a login stored in oauth.json. Kept for older callers: a stored credential
# is named by its file (``auth.json`` or ``oauth.json``); test ``AccountStatus.stored`` instead.
STORED = "oauth.json"
KIND_OAUTH = OAUTH
KIND_API_KEY = API_KEY


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
    kind: str | None = None
    where: str | None = None
    key_error: bool = False

    def __repr__(self) -> str:
        # The entry and the token are secrets.
        return f"Resolution(provider={self.provider!r}, source={self.source!r}, shadowed={self.shadowed!r})"

    @property
    def stored(self) -> bool:
        """True when the winner is an entry of the credential file (not an environment variable)."""
        return self.entry is not None


def env_kind(name: str) -> str:
    """The kind of credential an environment variable holds, by pi's naming."""
    return KIND_API_KEY if "API_KEY" in name else KIND_OAUTH


def resolve(
    provider: ProviderInfo, store: CredentialStore, env: Mapping[str, str], *, for_token: bool = False
) -> Resolution:
    """Find every source that has a credential; the first one wins. Makes no request.

    ``for_token``: a stored ``!command`` key is run (only ``token`` and the library ask for it).
    """
    sources: list[tuple[str, str | None, dict[str, Any] | None, str]] = []
    error = None
    key_error = False
    try:
        entry = store.entry(provider.id)
    except StoreError as exc:
        entry, error = None, str(exc)
    if entry is not None and entry["type"] == OAUTH:
        sources.append((store.path.name, entry["access"], entry, KIND_OAUTH))
    elif entry is not None:
        from app.keys import is_command, resolve_key  # only pi's api_key entries need it

        key: str | None = None
        if for_token or not is_command(entry["key"]):
            try:
                key = resolve_key(entry["key"], env, provider.id, store.path)
            except ConfigError as exc:
                error, key_error = str(exc), True
        sources.append((store.path.name, key, entry, KIND_API_KEY))
    sources.extend((name, env[name], None, env_kind(name)) for name in provider.env_vars if env.get(name))
    where = str(store.path)
    if not sources:
        return Resolution(provider.id, None, (), error=error, where=where)
    (source, token, winner, kind), *rest = sources
    return Resolution(
        provider.id, source, tuple(s[0] for s in rest), winner, token, error, kind, where, key_error
    )


def _missing_credential(provider: ProviderInfo, found: Resolution) -> PiTuiError:
    """The error for "no credential": a store problem (exit 3) if the store could not be read."""
    if found.key_error and found.error:
        return ConfigError(found.error)
    if found.error:
        return StoreError(found.error)
    hint = login_hint(provider)
    if found.where:
        hint = f"{hint[:-1]}; {found.where} has no {provider.id} entry."
    return NotLoggedIn(hint)


def ready_token(provider: ProviderInfo, found: Resolution, *, now_ms: int) -> str | None:
    """The winning token when it can be used as it is; None when the stored login is due.

    With no credential at all it raises NotLoggedIn, or StoreError when the store could not
    be read. The one rule shared by ``pi-tui token``, :class:`AuthService` and :mod:`app.api`.
    """
    if found.token is None:
        raise _missing_credential(provider, found)
    if found.kind != KIND_OAUTH or found.entry is None or not is_due(found.entry, now_ms=now_ms):
        return found.token
    return None


# Keys older pi-tui wrote into pi's entries; pi's own entries never carry them. They are still
# read (an old login keeps showing its account) but never written again.
ACCOUNT_KEYS = ("email", "login")


def account_label(entry: dict[str, Any]) -> str | None:
    """The account an entry names (older pi-tui's keys): its email, or ``@login``."""
    if isinstance(entry.get("email"), str):
        return str(entry["email"])
    return f"@{entry['login']}" if isinstance(entry.get("login"), str) else None


def remembered_account(store: CredentialStore, provider_id: str) -> str | None:
    """The account pi-tui remembers for a login in its own state file (never in pi's entry)."""
    from app.state import StateFile

    account = StateFile.default().get(store.path, provider_id).get("account")
    return account if isinstance(account, str) else None


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
    kind: str | None = None
    stored: bool = False
    # The provider's own label/value rows (e.g. Enterprise host, API base), from its module.
    rows: tuple[tuple[str, str], ...] = ()

    def to_json(self, *, now_ms: int) -> dict[str, Any]:
        """The ``pi-tui status --json`` form."""
        return {
            "provider": self.provider,
            "name": self.name,
            "state": self.state.value,
            "source": self.source,
            "kind": self.kind,
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
        "masked_token": mask(found.token) if found.token is not None else None,
        "last_error": last_error or found.error,
        "kind": found.kind,
        "stored": found.stored,
    }
    entry = found.entry
    if entry is None or found.kind != KIND_OAUTH:
        # An environment variable, or a stored API key (whose !command status never runs).
        return base._replace(state=State.LOGGED_IN, **fields)
    if last_error:
        state = State.REFRESH_FAILED
    else:
        state = State.DUE if is_due(entry, now_ms=now_ms) else State.LOGGED_IN
    return base._replace(
        state=state,
        account=remembered_account(store, provider.id) or account_label(entry),
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
