"""A locked read-modify-write of one credential document.

The transaction takes the store's lock (:mod:`app.store.locks`; which one depends on the
format), re-reads the file for every change and writes each change with one atomic replace
(:mod:`app.store.document`). ``async with`` waits for the lock in a worker thread and hands
it to the task; a task cancelled meanwhile never leaves the lock held.

Only the standard library is imported here, and only by a transaction (``pi-tui token`` and
``status`` load this module and open none): threading, and asyncio for ``async with`` callers.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.errors import StoreCorrupt
from app.store.document import (
    OAUTH,
    Reservation,
    check_private_dir,
    check_provider,
    check_storable,
    entry_problem,
    read_document,
    remove_stale_temps,
    replace_file,
    reserve,
    serialise,
    set_aside,
    valid_entry,
)
from app.store.locks import LOCK_SUFFIX, acquire_dir_lock, acquire_flock

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType
    from typing import Any

    from app.store import CredentialStore
    from app.store.locks import DirLockHeld, FlockHeld

    Held = DirLockHeld | FlockHeld  # a lock this process holds (either kind)


def acquire(store: CredentialStore, target: Path, stop: Callable[[], bool] | None) -> Held | None:
    """Take ``store``'s lock for the file ``target``; None if ``stop()`` said to give up waiting."""
    lock_path = target.with_name(target.name + LOCK_SUFFIX)
    if store.uses_pi_lock:
        return acquire_dir_lock(
            lock_path, store.lock_timeout, stop, stale=store.lock_stale, heartbeat=store.lock_heartbeat
        )
    return acquire_flock(lock_path, store.lock_timeout, stop)


def oauth_only(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """``entry`` if it is an OAuth login, else None (an API key entry or nothing)."""
    return entry if entry is not None and entry.get("type") == OAUTH else None


# Room kept for a new entry beyond twice the old one's size (tokens grow, keys are added).
RESERVE_MARGIN = 4096


class StoreTransaction:
    """The exclusive lock on the store, held from entering until leaving the block.

    Every read inside re-reads the file, and every write is one atomic replace (synchronous: an
    fsync takes milliseconds). Inside a transaction use its methods, not the store's:
    ``store.put`` would wait for this very lock and time out.
    """

    def __init__(self, store: CredentialStore, unless: Callable[[], bool] | None = None) -> None:
        self._store = store
        self._unless = unless
        self._lock: Held | None = None
        self._target = store.path
        self._entered = False
        self._counted = False
        self._reserved: Reservation | None = None
        import threading

        # Hands the lock from the worker thread to the task; see __aenter__.
        self._handoff = threading.Lock()

    def __enter__(self) -> StoreTransaction:
        self._begin()
        self._lock = acquire(self._store, self._target, self._unless)
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
        import threading

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
        doc = read_document(self._target, look_again=not self._store.uses_pi_lock, name=self._store.path)
        return {} if doc is None else doc

    def entry(self, provider: str) -> dict[str, Any] | None:
        """Re-read ``provider``'s entry of either kind under the lock (see ``CredentialStore.entry``)."""
        return valid_entry(self._store.path, self.load(), provider)

    def get(self, provider: str) -> dict[str, Any] | None:
        """Re-read ``provider``'s OAuth login under the lock, validated as ``CredentialStore.get``."""
        return oauth_only(self.entry(provider))

    def put(self, provider: str, entry: dict[str, Any]) -> None:
        """Re-read, set ``provider``'s entry to ``entry`` (as given, extra keys included), write.

        The old entry is replaced, not merged: a new login must not inherit e.g. the
        ``enterpriseUrl`` of the previous one. Build ``entry`` from the old one to keep its keys.
        """
        self._check_held()
        check_provider(provider)
        check_storable(provider, entry)
        doc, _ = self._read_for_write(provider)
        doc[provider] = entry
        self._write(doc)

    def put_many(self, entries: Mapping[str, dict[str, Any]]) -> None:
        """Re-read, set several providers' entries, write once (``pi-tui migrate``)."""
        self._check_held()
        for provider, entry in entries.items():
            check_provider(provider)
            check_storable(provider, entry)
        doc, _ = self._read_for_write(None)
        doc.update(entries)
        self._write(doc)

    def delete(self, provider: str) -> bool:
        """Re-read, remove ``provider``'s entry, write; True if there was an entry to remove.

        A damaged file is set aside and replaced by an empty document; that returns False,
        since no login could be read from it (``store.last_backup`` names the copy).
        """
        self._check_held()
        check_provider(provider)
        doc, set_aside = self._read_for_write(provider)
        removed = provider in doc
        if not removed and not set_aside:
            return False
        doc.pop(provider, None)
        self._write(doc)
        return removed

    def reserve(self, provider: str) -> None:
        """Make sure the next write can be saved, before something that cannot be undone.

        Re-reads the document, checks that it can be written back (StoreCorrupt names what
        cannot), and writes a temp file beside it as large as the document with ``provider``'s
        entry grown to twice its size and more; the next write goes into that file.
        StoreWriteError, with nothing changed, when the disk, the quota or a file-size limit
        leaves no room.
        """
        self._check_held()
        doc = self.load()
        try:
            size = len(serialise(doc)) + 2 * len(serialise({provider: doc.get(provider)}))
        except (TypeError, ValueError):
            raise StoreCorrupt(
                f"{self._store.path} holds a value pi-tui cannot write back as JSON, so it is "
                "kept as it is and nothing was changed; fix it by hand."
            ) from None
        self._discard_reservation()
        self._reserved = reserve(self._target, size + RESERVE_MARGIN)

    def _discard_reservation(self) -> None:
        reserved, self._reserved = self._reserved, None
        if reserved is not None:
            reserved.discard()

    def _begin(self) -> None:
        if self._entered:
            raise RuntimeError("A store transaction can be entered once; start a new one.")
        self._entered = True
        # The link is resolved once: the lock, the reads and the write all go to one file.
        self._target = self._store.real_path
        check_private_dir(self._target.parent)

    def _acquire_unless(self, abandoned: threading.Event) -> None:
        lock = acquire(self._store, self._target, abandoned.is_set)
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
        self._discard_reservation()
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
            doc = read_document(self._target, look_again=not store.uses_pi_lock, name=store.path)
        except StoreCorrupt:
            store.last_backup = set_aside(self._target)
            return {}, True
        if doc is None:
            return {}, False
        if provider is not None and provider in doc and entry_problem(doc[provider]) is not None:
            store.last_backup = set_aside(self._target)
            return doc, True
        return doc, False

    def _write(self, doc: dict[str, Any]) -> None:
        assert self._lock is not None
        data = serialise(doc)
        self._lock.check()  # another process took the lock over: its write wins, ours is dropped
        reserved, self._reserved = self._reserved, None
        replace_file(self._target, data, self._store._step, reserved)
        remove_stale_temps(self._target)
