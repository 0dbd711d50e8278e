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

import binascii
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from app.errors import ConfigError, NotLoggedIn, PiTuiError, StoreError
from app.expiry import current_ms, is_due, never_expires, refresh_due_ms
from app.mask import mask
from app.providers import ProviderInfo, login_hint, registry, stored_account
from app.records import NamedTuple
from app.state import BY_OTHER, StateFile
from app.store import API_KEY, OAUTH, CredentialStore

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

# The kinds of credential (``AccountStatus.kind``, ``status --json``'s "kind") are pi's entry
# types, OAUTH and API_KEY from app.store; an environment variable's kind is the registry's.


class State(StrEnum):
    """Where a provider's login stands. The value is the sentence; :attr:`word` is for scripts."""

    LOGGED_IN = "logged in"
    DUE = "expired, will refresh"
    REFRESH_FAILED = "refresh failed"
    NOT_LOGGED_IN = "not logged in"
    UNREADABLE = "store unreadable"

    @property
    def word(self) -> str:
        """The stable word ``status --json`` prints as ``state`` (the sentence may be reworded)."""
        return _STATE_WORDS[self]


_STATE_WORDS = {
    State.LOGGED_IN: "logged_in",
    State.DUE: "expired",
    State.REFRESH_FAILED: "refresh_failed",
    State.NOT_LOGGED_IN: "not_logged_in",
    State.UNREADABLE: "store_unreadable",
}


def state_file(env: Mapping[str, str]) -> StateFile:
    """pi-tui's state file: ``$PI_TUI_STATE_DIR`` from ``env``, else from the process environment.

    A caller's ``env`` often carries only provider variables (tests, the library): the state
    directory must then still be the process's, never silently the real home's.
    """
    return StateFile.default(env if env.get("PI_TUI_STATE_DIR") else None)


def fingerprint(entry: Mapping[str, Any]) -> str:
    """What pi-tui remembers of an entry to notice that someone else changed it. Not a secret.

    ``expires`` plus a CRC-32 of the access token: enough to tell two tokens apart, far too
    little to learn anything about one. (hashlib would cost ~14 ms on the ``status`` path.)
    """
    access = str(entry.get("access") or "").encode("utf-8", "replace")
    return f"{entry.get('expires')}:{binascii.crc32(access):08x}"


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
        sources.append((store.path.name, entry["access"], entry, OAUTH))
    elif entry is not None:
        from app.keys import is_command, resolve_key  # only pi's api_key entries need it

        key: str | None = None
        if for_token or not is_command(entry["key"]):
            try:
                key = resolve_key(entry["key"], env, provider.id, store.path)
            except ConfigError as exc:
                error, key_error = str(exc), True
        sources.append((store.path.name, key, entry, API_KEY))
    sources.extend(
        (name, env[name], None, API_KEY if name in provider.api_key_vars else OAUTH)
        for name in provider.env_vars
        if env.get(name)
    )
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


def ready_token(
    provider: ProviderInfo,
    found: Resolution,
    *,
    now_ms: int,
    state: StateFile | None = None,
    min_valid_ms: int = 0,
) -> str | None:
    """The winning token when it can be used as it is; None when the stored login is due.

    With no credential at all it raises NotLoggedIn, or StoreError when the store could not
    be read. The one rule shared by ``pi-tui token``, :class:`AuthService` and :mod:`app.api`.
    ``state``: pi-tui's state file (default: the process's), read only when pi's rule says due.
    """
    if found.token is None:
        raise _missing_credential(provider, found)
    if found.kind != OAUTH or found.entry is None or found.where is None:
        return found.token
    if not token_due(
        found.where, provider.id, found.entry, now_ms=now_ms, state=state, min_valid_ms=min_valid_ms
    ):
        return found.token
    return None


def token_due(
    store_path: str | os.PathLike[str],
    provider_id: str,
    entry: dict[str, Any],
    *,
    now_ms: int,
    state: StateFile | None = None,
    min_valid_ms: int = 0,
) -> bool:
    """:func:`app.expiry.is_due`, with when pi-tui saw the token arrive when pi's rule says due.

    Only then is the state file read: a short-lived token that pi-tui stored a moment ago is
    not due yet (``pi-tui token`` would otherwise refresh it on every call).
    """
    if not is_due(entry, now_ms=now_ms, min_valid_ms=min_valid_ms):
        return False
    record = (state or state_file({})).get(Path(store_path), provider_id)
    return is_due(entry, now_ms=now_ms, seen_ms=seen_at_ms(record, entry), min_valid_ms=min_valid_ms)


def seen_at_ms(record: Mapping[str, Any], entry: Mapping[str, Any]) -> int | None:
    """When pi-tui saw ``entry``'s token arrive, from its state record; None when not known.

    Known when the record's fingerprint is this entry's and pi-tui stored it itself (a login,
    or a refresh by the app, ``pi-tui token`` or the library). A change made by another process
    is dated by the file's modification time, which may be later than the token's arrival:
    not used.
    """
    if record.get("seen") != fingerprint(entry):
        return None
    refresh = record.get("last_refresh")
    if isinstance(refresh, dict):
        return None if refresh.get("by") == BY_OTHER else _int(refresh.get("at"))
    return _int(record.get("logged_in_at"))


def account_label(entry: dict[str, Any]) -> str | None:
    """The account an entry names (older pi-tui's keys): its email, or ``@login``."""
    return stored_account(entry)


def remembered_account(store: CredentialStore, provider_id: str, state: StateFile) -> str | None:
    """The account pi-tui remembers for a login in its own state file (never in pi's entry)."""
    account = state.get(store.path, provider_id).get("account")
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
    # What the credential is: "oauth" (a login or an OAuth token) or "api_key"; None if none.
    kind: str | None = None
    # True when it is an entry of the credential file (source: its name), not a variable.
    stored: bool = False
    # A token's life, from pi-tui's state file (epoch ms; None when not known).
    logged_in_at_ms: int | None = None
    refreshed_at_ms: int | None = None
    # Who refreshed it last: app.state.BY_APP, BY_TOKEN, BY_LIBRARY or BY_OTHER.
    refreshed_by: str | None = None
    # When the stored token will next be refreshed (it is due from then on).
    next_refresh_ms: int | None = None
    # When ``last_error`` happened, if it is a remembered refresh failure.
    failed_at_ms: int | None = None
    # The provider's own label/value rows (e.g. Enterprise host, API base), from its module.
    rows: tuple[tuple[str, str], ...] = ()

    def to_json(self, *, now_ms: int) -> dict[str, Any]:
        """The ``pi-tui status --json`` form: ``state`` is a stable word, ``state_text`` its sentence."""
        return {
            "provider": self.provider,
            "name": self.name,
            "state": self.state.word,
            "state_text": self.state.value,
            "kind": self.kind,
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
            "error_at": self.failed_at_ms,
            "logged_in_at": self.logged_in_at_ms,
            "last_refresh_at": self.refreshed_at_ms,
            "last_refresh_by": self.refreshed_by,
            "next_refresh_at": self.next_refresh_ms,
        }


def account_status(
    provider: ProviderInfo,
    store: CredentialStore,
    env: Mapping[str, str],
    *,
    now_ms: int,
    last_error: str | None = None,
    state: StateFile | None = None,
) -> AccountStatus:
    """Describe one provider from the store, the environment and pi-tui's state file.

    ``last_error`` is a failure this process saw; the state file adds what other pi-tui
    processes saw. A login whose last refresh was refused as dead is ``REFRESH_FAILED``, not
    "will refresh".
    """
    from app.sanitize import display_text  # every text shown comes from a file, env or server

    found = resolve(provider, store, env)
    base = AccountStatus(provider.id, provider.name, State.NOT_LOGGED_IN)
    if found.source is None:
        kind = State.UNREADABLE if found.error else State.NOT_LOGGED_IN
        return base._replace(state=kind, last_error=_shown(found.error or last_error))
    fields: dict[str, Any] = {
        "source": display_text(found.source),
        "shadowed": found.shadowed,
        "masked_token": display_text(mask(found.token)) if found.token is not None else None,
        "last_error": _shown(last_error or found.error),
        "kind": found.kind,
        "stored": found.stored,
    }
    entry = found.entry
    if entry is None or found.kind != OAUTH:
        # An environment variable, or a stored API key (whose !command status never runs).
        return base._replace(state=State.LOGGED_IN, **fields)
    life = token_life(store, provider.id, entry, state or state_file(env))
    dead, failure, account = life.pop("dead"), life.pop("failure"), life.pop("account")
    seen_ms = life.pop("seen_ms")
    rows = provider_rows(provider, entry, env)
    if failure:
        fields["last_error"] = _shown(last_error or failure)
    if last_error or dead:
        now_state = State.REFRESH_FAILED
    else:
        now_state = State.DUE if is_due(entry, now_ms=now_ms, seen_ms=seen_ms) else State.LOGGED_IN
    return base._replace(
        state=now_state,
        account=_shown(account or account_label(entry)),
        expires_ms=int(entry["expires"]),
        rows=tuple((display_text(str(k)), display_text(str(v))) for k, v in rows),
        # A key that never expires is never refreshed: no "next refresh in over a year".
        next_refresh_ms=None if never_expires(entry["expires"]) else refresh_due_ms(entry, seen_ms=seen_ms),
        **life,
        **fields,
    )


def _shown(text: str | None) -> str | None:
    from app.sanitize import display_text

    return None if text is None else display_text(text)


def token_life(
    store: CredentialStore, provider_id: str, entry: dict[str, Any], state: StateFile
) -> dict[str, Any]:
    """What the state file knows about this login, checked against the entry in the file now.

    An entry that changed since pi-tui last saw it was written by another process (pi): that
    is shown as a refresh by ``another process`` at the file's modification time, and a failure
    remembered for the old entry no longer applies. Never raises and never writes: the state
    file is a nicety.
    """
    record = state.get(store.path, provider_id)
    seen, now_seen = record.get("seen"), fingerprint(entry)
    failure = record.get("last_failure") if isinstance(record.get("last_failure"), dict) else None
    refresh = record.get("last_refresh") if isinstance(record.get("last_refresh"), dict) else None
    # Worked out on every read, never written: reading status changes no file. The service
    # records the next login or refresh it makes itself.
    if seen != now_seen:
        if seen is not None:  # first sight of a login pi made: nothing to say about who
            refresh = {"at": _mtime_ms(store), "by": BY_OTHER}
        if failure is not None and failure.get("entry") != now_seen:
            failure = None
    return {
        "logged_in_at_ms": _int(record.get("logged_in_at")),
        "refreshed_at_ms": _int(refresh.get("at")) if refresh else None,
        "refreshed_by": _shown(refresh["by"]) if refresh and isinstance(refresh.get("by"), str) else None,
        "failed_at_ms": _int(failure.get("at")) if failure else None,
        "failure": str(failure.get("message") or "") if failure else None,
        "dead": bool(failure and failure.get("dead")),
        "account": record.get("account") if isinstance(record.get("account"), str) else None,
        "seen_ms": seen_at_ms(record, entry),
    }


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mtime_ms(store: CredentialStore) -> int | None:
    try:
        return int(os.stat(store.path).st_mtime * 1000)
    except OSError:
        return None


def life_text(status: AccountStatus, now_ms: int) -> str | None:
    """A token's life in one line: last refresh (when, by whom), next refresh; None if unknown.

    e.g. "last refreshed 12m 03s ago by pi-tui token; next refresh in 7h 48m".
    """
    from app.timefmt import duration

    parts = []
    if status.refreshed_at_ms is not None:
        by = f" by {status.refreshed_by}" if status.refreshed_by else ""
        parts.append(f"last refreshed {duration(now_ms - status.refreshed_at_ms)} ago{by}")
    elif status.logged_in_at_ms is not None:
        parts.append(f"logged in with pi-tui {duration(now_ms - status.logged_in_at_ms)} ago")
    if status.state is State.REFRESH_FAILED:
        pass  # "next refresh" would promise what the failure line says will not happen
    elif status.next_refresh_ms is not None and status.next_refresh_ms > now_ms:
        parts.append(f"next refresh in {duration(status.next_refresh_ms - now_ms)}")
    elif status.next_refresh_ms is not None:
        parts.append("next refresh due now")
    return "; ".join(parts) or None


def provider_rows(
    provider: ProviderInfo, entry: dict[str, Any], env: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The provider module's label/value rows for a stored login (its module is light: no httpx)."""
    from app.providers import load

    module = load(provider.id)
    own = {**env, **dict(provider.env)} if provider.env else env  # a custom gateway's address
    return tuple(module.status_rows(module.endpoints(own), entry))


def all_statuses(
    store: CredentialStore,
    env: Mapping[str, str] | None = None,
    *,
    now_ms: int | None = None,
    errors: Mapping[str, str] | None = None,
    state: StateFile | None = None,
) -> list[AccountStatus]:
    """Every provider's status, in registry order."""
    env = os.environ if env is None else env
    now_ms = current_ms() if now_ms is None else now_ms
    errors = errors or {}
    state = state or state_file(env)
    return [
        account_status(p, store, env, now_ms=now_ms, last_error=errors.get(p.id), state=state)
        for p in registry(store.path.parent, env).values()
    ]
