"""pi's credential file: which one, and the store object the rest of pi-tui goes through.

Which file (DESIGN.md, "Which file"): in the agent directory, ``auth.json`` if it exists
(pi 0.27 and later), else ``oauth.json`` if it exists (older pi), else a new ``auth.json``;
``PI_TUI_STORE=auth.json|oauth.json`` forces one. pi-tui never writes both.

Both formats hold a JSON object keyed by provider id; ``auth.json`` may also hold pi's
``{"type": "api_key", "key": …}`` entries. ``auth.json`` is locked with pi's lock directory,
``oauth.json`` with flock (see :mod:`app.store.locks`). Reads take no lock.

Only the standard library is imported here: ``pi-tui token`` reads the store on every call.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from app.errors import ConfigError, StoreCorrupt, StoreError
from app.paths import agent_dir
from app.store.document import (
    API_KEY,
    MAX_BYTES,
    OAUTH,
    SAFE_OPEN,
    STALE_TEMP_SECONDS,
    TORN_READ_PAUSE_SECONDS,
    WRITE_STEPS,
    check_private_dir,
    read_document,
    real_path,
    valid_entry,
    write_error,
)
from app.store.locks import DIR_LOCK_TIMEOUT, FLOCK_TIMEOUT, HEARTBEAT_SECONDS, LOCK_SUFFIX, STALE_SECONDS
from app.store.migration import OAUTH_JSON, Migration, migrate, migration_note, pending_migration
from app.store.transaction import StoreTransaction, oauth_only

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "API_KEY",
    "AUTH_JSON",
    "DIR_LOCK_TIMEOUT",
    "FLOCK_TIMEOUT",
    "LOCK_SUFFIX",
    "LOCK_TIMEOUT_VARIABLE",
    "MAX_BYTES",
    "OAUTH",
    "OAUTH_JSON",
    "STALE_TEMP_SECONDS",
    "TORN_READ_PAUSE_SECONDS",
    "WRITE_STEPS",
    "CredentialStore",
    "Migration",
    "StoreTransaction",
    "choose_store_path",
    "migrate",
    "migration_note",
    "pending_migration",
]

AUTH_JSON = "auth.json"
# Seconds a writer waits for the lock before giving up (tests shorten it; the default is the
# format's: see app.store.locks).
LOCK_TIMEOUT_VARIABLE = "PI_TUI_LOCK_TIMEOUT"


def choose_store_path(directory: Path, env: Mapping[str, str] | None = None) -> Path:
    """The credential file to use in the agent directory ``directory`` (the rule above)."""
    env = os.environ if env is None else env
    forced = env.get("PI_TUI_STORE", "").strip()
    if forced:
        if forced not in (AUTH_JSON, OAUTH_JSON):
            raise ConfigError(
                f"PI_TUI_STORE is {forced[:40]!r}; set it to auth.json (pi 0.27 and later) or "
                f"oauth.json (older pi), or unset it to let pi-tui pick the file pi uses."
            )
        return directory / forced
    for name in (AUTH_JSON, OAUTH_JSON):
        if os.path.lexists(directory / name):
            return directory / name
    return directory / AUTH_JSON


class CredentialStore:
    """pi's credential file: locked, atomic, 0600, keeps what it does not know.

    ``kind`` is the format, ``"auth.json"`` or ``"oauth.json"``; by default the file's name
    decides (anything but ``auth.json`` is taken as the older format). ``last_backup`` is the
    copy most recently set aside by a write of this object because the file (or the entry
    being replaced) was damaged; None while no write has had to do that.
    """

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float | None = None,
        on_step: Callable[[str], None] | None = None,
        kind: str | None = None,
        lock_stale: float | None = None,
        lock_heartbeat: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind or (AUTH_JSON if self.path.name == AUTH_JSON else OAUTH_JSON)
        default_timeout = DIR_LOCK_TIMEOUT if self.uses_pi_lock else FLOCK_TIMEOUT
        self.lock_timeout = default_timeout if lock_timeout is None else lock_timeout
        self.lock_stale = STALE_SECONDS if lock_stale is None else lock_stale
        self.lock_heartbeat = HEARTBEAT_SECONDS if lock_heartbeat is None else lock_heartbeat
        self.last_backup: Path | None = None
        self._on_step = on_step
        # Transactions of this object that hold the lock now: a read failing meanwhile must not
        # wait for the lock again (it would wait for itself).
        self._holding = 0

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    @classmethod
    def for_agent_dir(
        cls, override: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
    ) -> CredentialStore:
        """The store pi uses in the agent directory (``--agent-dir`` → $PI_CODING_AGENT_DIR → ~/.pi/agent)."""
        env = os.environ if env is None else env
        return cls(choose_store_path(agent_dir(override, env), env), lock_timeout=lock_timeout_from(env))

    @property
    def uses_pi_lock(self) -> bool:
        """True for auth.json (pi's lock directory), False for oauth.json (flock)."""
        return self.kind == AUTH_JSON

    @property
    def real_path(self) -> Path:
        """The file that is read, locked and written: the path, or the target of our own link."""
        return real_path(self.path)

    @property
    def lock_path(self) -> Path:
        """The lock beside the real file (pi's proper-lockfile resolves links the same way)."""
        try:
            target = self.real_path
        except StoreError:
            target = self.path
        return target.with_name(target.name + LOCK_SUFFIX)

    def load(self) -> dict[str, Any]:
        """Return the whole document; ``{}`` when the file does not exist. Takes no lock.

        pi writes auth.json in place (truncate, then write), so a read that fails to parse is
        tried again under pi's lock before the file is called corrupt.
        """
        target = self.real_path
        if not self.uses_pi_lock:
            doc = read_document(target, name=self.path)
            return {} if doc is None else doc
        try:
            doc = read_document(target, look_again=False, name=self.path)
        except StoreCorrupt:
            if self._holding:
                raise  # we hold the lock, so nobody is writing: the file is damaged
            try:
                with self.transaction() as tx:
                    return tx.load()
            except StoreCorrupt:
                raise
            except StoreError:
                # No lock to be had (a read-only directory, a stuck lock): a second look a
                # moment later is the next best way to tell a torn read from a damaged file.
                doc = read_document(target, name=self.path)
        return {} if doc is None else doc

    def entry(self, provider: str) -> dict[str, Any] | None:
        """``provider``'s entry of either kind (OAuth or API key), None if absent.

        StoreCorrupt when it is of a shape or type pi cannot use.
        """
        return valid_entry(self.path, self.load(), provider)

    def get(self, provider: str) -> dict[str, Any] | None:
        """``provider``'s OAuth login, None if absent or an API key entry; StoreCorrupt if malformed."""
        return oauth_only(self.entry(provider))

    def put(self, provider: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` as ``provider``'s login (replacing the old one) under the lock.

        For scripts and tests that seed a store; pi-tui itself writes inside a transaction."""
        with self.transaction() as tx:
            tx.put(provider, entry)

    def delete(self, provider: str) -> bool:
        """Remove ``provider``'s entry (of either kind) under the lock; True if there was one.

        For scripts and tests; pi-tui itself removes inside a transaction."""
        with self.transaction() as tx:
            return tx.delete(provider)

    def check_writable(self) -> None:
        """Raise what a save would raise, without saving: StoreUnsafe, or StoreWriteError when the
        directory (or the nearest one that exists) takes no new file. A damaged file is no
        obstacle: a save sets it aside. Creates nothing that stays; takes no lock."""
        target = self.real_path  # StoreUnsafe for a link pi-tui must not follow
        with contextlib.suppress(StoreCorrupt):
            read_document(target, look_again=False, name=self.path)
        directory = target.parent
        while not os.path.lexists(directory) and directory != directory.parent:
            directory = directory.parent
        if directory == target.parent:
            check_private_dir(directory)  # a missing one is made 0700
        probe = directory / f".{target.name}.{os.urandom(8).hex()}.tmp"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_OPEN, 0o600))
        except OSError as error:
            raise write_error(self.path, error) from error
        with contextlib.suppress(OSError):
            os.unlink(probe)

    def transaction(self, *, unless: Callable[[], bool] | None = None) -> StoreTransaction:
        """Return a transaction to enter with ``with`` or ``async with``; it holds the lock.

        ``unless`` (synchronous ``with`` only) is asked while waiting for the lock; when it
        returns True the wait ends and the block runs without the lock (``tx.held`` is
        False). A process that only needs another one's fresh token leaves as soon as the
        file shows it, instead of queueing for the lock.
        """
        return StoreTransaction(self, unless)

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)


def lock_timeout_from(env: Mapping[str, str]) -> float | None:
    """``$PI_TUI_LOCK_TIMEOUT`` in seconds, None when unset (the format's default applies)."""
    raw = env.get(LOCK_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise ConfigError(
            f"{LOCK_TIMEOUT_VARIABLE} is {raw[:40]!r}; set it to a number of seconds (e.g. 35), "
            "or unset it to wait as long as pi does."
        )
    return seconds
