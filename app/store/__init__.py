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
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from app.errors import ConfigError, StoreCorrupt, StoreError, StoreWriteError
from app.store.document import (
    _SAFE_OPEN,
    API_KEY,
    HEARTBEAT_SECONDS,
    MAX_BYTES,
    OAUTH,
    STALE_SECONDS,
    STALE_TEMP_SECONDS,
    TORN_READ_PAUSE_SECONDS,
    WRITE_STEPS,
    _check_provider,
    _check_storable,
    _entry_problem,
    _read_document,
    _remove_stale_temps,
    _replace_file,
    _set_aside,
    _valid_entry,
    _write_error,
    real_path,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = [
    "API_KEY",
    "AUTH_JSON",
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
OAUTH_JSON = "oauth.json"
LOCK_SUFFIX = ".lock"
FLOCK_TIMEOUT = 10.0
# pi's lock settings (STALE_SECONDS, HEARTBEAT_SECONDS: see app.store.document); pi waits up to
# 30 s for the lock; pi-tui waits a little longer.
DIR_LOCK_TIMEOUT = 35.0


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


def lock_wait(env: Mapping[str, str] | None = None) -> float | None:
    """``$PI_TUI_LOCK_TIMEOUT``: seconds to wait for the store's lock (tests set a short one);
    None when unset (35 s for pi's lock directory, 10 s for flock)."""
    env = os.environ if env is None else env
    raw = env.get("PI_TUI_LOCK_TIMEOUT", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:  # NaN too
        raise ConfigError(
            f"PI_TUI_LOCK_TIMEOUT is {raw[:40]!r}; set it to the seconds to wait for the lock "
            f"(e.g. 35), or unset it."
        )
    return seconds


class _Held(Protocol):
    def check(self) -> None: ...
    def release(self) -> None: ...


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
        from app.paths import agent_dir

        return cls(choose_store_path(agent_dir(override, env), env), lock_timeout=lock_wait(env))

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
            doc = _read_document(target)
            return {} if doc is None else doc
        try:
            doc = _read_document(target, look_again=False)
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
                doc = _read_document(target)
        return {} if doc is None else doc

    def entry(self, provider: str) -> dict[str, Any] | None:
        """``provider``'s entry of either kind (OAuth or API key), None if absent.

        StoreCorrupt when it is of a shape or type pi cannot use.
        """
        return _valid_entry(self.path, self.load(), provider)

    def get(self, provider: str) -> dict[str, Any] | None:
        """``provider``'s OAuth login, None if absent or an API key entry; StoreCorrupt if malformed."""
        return _oauth_only(self.entry(provider))

    def put(self, provider: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` as ``provider``'s login (replacing the old one) under the lock."""
        with self.transaction() as tx:
            tx.put(provider, entry)

    def delete(self, provider: str) -> bool:
        """Remove ``provider``'s entry (of either kind) under the lock; True if there was one."""
        with self.transaction() as tx:
            return tx.delete(provider)

    def check_writable(self) -> None:
        """Raise what a save would raise, without saving: StoreUnsafe, or StoreWriteError when the
        directory (or the nearest one that exists) takes no new file. A damaged file is no
        obstacle: a save sets it aside. Creates nothing that stays; takes no lock."""
        target = self.real_path  # StoreUnsafe for a link pi-tui must not follow
        with contextlib.suppress(StoreCorrupt):
            _read_document(target, look_again=False)
        directory = target.parent
        while not os.path.lexists(directory) and directory != directory.parent:
            directory = directory.parent
        probe = directory / f".{target.name}.{os.urandom(8).hex()}.tmp"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN, 0o600))
        except OSError as error:
            raise _write_error(self.path, error) from error
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

    def _acquire(self, target: Path, stop: Callable[[], bool] | None) -> _Held | None:
        lock_path = target.with_name(target.name + LOCK_SUFFIX)
        if self.uses_pi_lock:
            from app.store.locks import acquire_dir_lock

            return acquire_dir_lock(
                lock_path, self.lock_timeout, stop, stale=self.lock_stale, heartbeat=self.lock_heartbeat
            )
        from app.store.locks import acquire_flock

        return acquire_flock(lock_path, self.lock_timeout, stop)

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)


def _oauth_only(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    return entry if entry is not None and entry.get("type") == OAUTH else None


class StoreTransaction:
    """The exclusive lock on the store, held from entering until leaving the block.

    Every read inside re-reads the file, and every write is one atomic replace (synchronous: an
    fsync takes milliseconds). Inside a transaction use its methods, not the store's:
    ``store.put`` would wait for this very lock and time out.
    """

    def __init__(self, store: CredentialStore, unless: Callable[[], bool] | None = None) -> None:
        self._store = store
        self._unless = unless
        self._lock: _Held | None = None
        self._target = store.path
        self._entered = False
        self._counted = False
        # Hands the lock from the worker thread to the task; see __aenter__.
        self._handoff = threading.Lock()

    def __enter__(self) -> StoreTransaction:
        self._begin()
        self._lock = self._store._acquire(self._target, self._unless)
        if self._lock is not None:
            self._announce()
        return self

    @property
    def held(self) -> bool:
        """True while this transaction holds the lock (False when ``unless`` ended the wait)."""
        return self._lock is not None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    async def __aenter__(self) -> StoreTransaction:
        import asyncio  # only async callers pay for it, and they have already imported it

        self._begin()
        abandoned = threading.Event()
        try:
            await asyncio.to_thread(self._acquire_unless, abandoned)
        except BaseException:
            # Cancelled (or timed out) while the thread waits: whichever of us sees the lock
            # last lets it go, so a cancelled task never leaves it held.
            with self._handoff:
                abandoned.set()
            self._release()
            raise
        self._announce()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def load(self) -> dict[str, Any]:
        """Re-read the whole document under the lock; ``{}`` when the file does not exist."""
        self._check_held()
        doc = _read_document(self._target, look_again=not self._store.uses_pi_lock)
        return {} if doc is None else doc

    def entry(self, provider: str) -> dict[str, Any] | None:
        """Re-read ``provider``'s entry of either kind under the lock (see ``CredentialStore.entry``)."""
        return _valid_entry(self._store.path, self.load(), provider)

    def get(self, provider: str) -> dict[str, Any] | None:
        """Re-read ``provider``'s OAuth login under the lock, validated as ``CredentialStore.get``."""
        return _oauth_only(self.entry(provider))

    def put(self, provider: str, entry: dict[str, Any]) -> None:
        """Re-read, set ``provider``'s entry to ``entry`` (as given, extra keys included), write.

        The old entry is replaced, not merged: a new login must not inherit e.g. the
        ``enterpriseUrl`` of the previous one. Build ``entry`` from the old one to keep its keys.
        """
        self._check_held()
        _check_provider(provider)
        _check_storable(provider, entry)
        doc, _ = self._read_for_write(provider)
        doc[provider] = entry
        self._write(doc)

    def put_many(self, entries: Mapping[str, dict[str, Any]]) -> None:
        """Re-read, set several providers' entries, write once (``pi-tui migrate``)."""
        self._check_held()
        for provider, entry in entries.items():
            _check_provider(provider)
            _check_storable(provider, entry)
        doc, _ = self._read_for_write(None)
        doc.update(entries)
        self._write(doc)

    def delete(self, provider: str) -> bool:
        """Re-read, remove ``provider``'s entry, write; True if there was an entry to remove.

        A damaged file is set aside and replaced by an empty document; that returns False,
        since no login could be read from it (``store.last_backup`` names the copy).
        """
        self._check_held()
        _check_provider(provider)
        doc, set_aside = self._read_for_write(provider)
        removed = provider in doc
        if not removed and not set_aside:
            return False
        doc.pop(provider, None)
        self._write(doc)
        return removed

    def _begin(self) -> None:
        if self._entered:
            raise RuntimeError("A store transaction can be entered once; start a new one.")
        self._entered = True
        # The link is resolved once: the lock, the reads and the write all go to one file.
        self._target = self._store.real_path

    def _acquire_unless(self, abandoned: threading.Event) -> None:
        lock = self._store._acquire(self._target, abandoned.is_set)
        if lock is None:
            return
        with self._handoff:
            if abandoned.is_set():
                lock.release()
            else:
                self._lock = lock

    def _announce(self) -> None:
        self._counted = True
        self._store._holding += 1
        try:
            self._store._step("lock-acquired")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        with self._handoff:
            lock, self._lock = self._lock, None
        if self._counted:
            self._counted = False
            self._store._holding -= 1
        if lock is not None:
            lock.release()

    def _check_held(self) -> None:
        if self._lock is None:
            raise RuntimeError("Use the store transaction inside its `with` block.")

    def _read_for_write(self, provider: str | None) -> tuple[dict[str, Any], bool]:
        """Return the document to change and whether the file had to be set aside first."""
        store = self._store
        try:
            doc = _read_document(self._target, look_again=not store.uses_pi_lock)
        except StoreCorrupt:
            store.last_backup = _set_aside(self._target)
            return {}, True
        if doc is None:
            return {}, False
        if provider is not None and provider in doc and _entry_problem(doc[provider]) is not None:
            store.last_backup = _set_aside(self._target)
            return doc, True
        return doc, False

    def _write(self, doc: dict[str, Any]) -> None:
        assert self._lock is not None
        data = (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("ascii")
        self._lock.check()  # another process took the lock over: its write wins, ours is dropped
        _replace_file(self._target, data, self._store._step)
        _remove_stale_temps(self._target)


# --- oauth.json → auth.json ----------------------------------------------------------------------

MIGRATED_SUFFIX = ".migrated"


class Migration(NamedTuple):
    """What ``pi-tui migrate`` would do (or did): the logins to copy, from where, to where."""

    source: Path
    target: Path
    providers: tuple[str, ...]


def pending_migration(store: CredentialStore) -> Migration | None:
    """The logins in an ``oauth.json`` beside the ``auth.json`` in use that ``auth.json`` lacks.

    pi (0.27 and later) reads that file only when ``auth.json`` does not exist, so these logins
    are invisible to it. None when there is nothing to migrate or a file cannot be read (its
    own problem is reported where it is used).
    """
    if not store.uses_pi_lock:
        return None
    old = CredentialStore(store.path.with_name(OAUTH_JSON), kind=OAUTH_JSON)
    if not os.path.lexists(old.path):
        return None
    try:
        missing = _missing_logins(old.load(), store.load())
    except StoreError:
        return None
    return Migration(old.path, store.path, tuple(missing)) if missing else None


def migration_note(pending: Migration) -> str:
    """The sentence the status panel and ``pi-tui status`` show for :func:`pending_migration`."""
    names = ", ".join(pending.providers)
    return (
        f"{pending.source} holds logins that {pending.target.name} lacks ({names}); pi ignores that "
        f"file. Run `pi-tui migrate` to copy them into {pending.target.name}."
    )


def _missing_logins(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        provider: entry
        for provider, entry in old.items()
        if provider not in new and _entry_problem(entry) is None
    }


def migrate(store: CredentialStore) -> tuple[Migration, Path | None]:
    """Copy the logins ``auth.json`` lacks from ``oauth.json`` beside it, then rename that file.

    Both files are locked (pi's lock directory, then the flock), as pi's own migration does the
    rename: ``oauth.json`` becomes ``oauth.json.migrated``. Returns what was copied and the new
    name (None when there was nothing to do: no oauth.json, or no login missing from auth.json).
    """
    old = CredentialStore(store.path.with_name(OAUTH_JSON), kind=OAUTH_JSON, lock_timeout=store.lock_timeout)
    if not store.uses_pi_lock or not os.path.lexists(old.path):
        return Migration(old.path, store.path, ()), None
    with store.transaction() as tx, old.transaction() as old_tx:
        missing = _missing_logins(old_tx.load(), tx.load())
        if not missing:
            return Migration(old.path, store.path, ()), None
        tx.put_many(missing)
        renamed = _free_name(old.real_path.with_name(old.real_path.name + MIGRATED_SUFFIX))
        try:
            os.rename(old.real_path, renamed)
        except OSError as error:
            raise StoreWriteError(
                f"The logins were copied into {store.path}, but {old.path} could not be renamed "
                f"({error.strerror}); rename it yourself (mv {old.path} {renamed})."
            ) from error
    return Migration(old.path, store.path, tuple(missing)), renamed


def _free_name(path: Path) -> Path:
    if not os.path.lexists(path):
        return path
    n = 2
    while os.path.lexists(path.with_name(f"{path.name}-{n}")):
        n += 1
    return path.with_name(f"{path.name}-{n}")
