"""pi's credential file, ``oauth.json``: locked, atomic, 0600, and it keeps what it does not know.

Reads take no lock: every write renames a complete, fsynced temp file into place, so a reader
sees the old document or the new one, never a mix. A write takes an exclusive lock on the
permanent sibling ``oauth.json.lock``, re-reads, changes one provider's entry, and renames.

The lock is ``flock`` on a file descriptor opened for that one transaction, not the ``filelock``
package: ``filelock.FileLock`` is reentrant and thread-local, so a second asyncio task on the same
thread would walk straight into a lock its neighbour holds. An flock belongs to an open file
description, so one ``open()`` per transaction excludes other processes, other threads and other
tasks alike; the kernel drops it when the holder dies, and it costs no import on the hot path.
(On NFS, Linux emulates flock with POSIX locks, which do not exclude within one process.)

Only the standard library is imported here: ``pi-tui token`` reads this file on every call.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import StoreCorrupt, StoreLockTimeout, StoreUnsafe, StoreWriteError
from app.paths import LOCK_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

MAX_BYTES = 16 * 1024 * 1024
LOCK_POLL_SECONDS = 0.025
STALE_TEMP_SECONDS = 60.0
TORN_READ_PAUSE_SECONDS = 0.05
WRITE_STEPS = (
    "lock-acquired",
    "before-temp",
    "temp-written",
    "before-fsync",
    "fsynced",
    "before-rename",
    "renamed",
    "dir-fsynced",
)

# O_NONBLOCK: opening a FIFO put in the file's place must not hang; regular files ignore it.
_SAFE_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_READ_CHUNK = 1 << 16


class CredentialStore:
    """pi's oauth.json: locked, atomic, 0600, keeps unknown keys.

    ``last_backup`` is the copy most recently set aside by a write of this object because the
    file (or the entry being replaced) was damaged; None while no write has had to do that.
    """

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 10.0,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + LOCK_SUFFIX)
        self.lock_timeout = lock_timeout
        self.last_backup: Path | None = None
        self._on_step = on_step

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    def load(self) -> dict[str, Any]:
        """Return the whole document; ``{}`` when the file does not exist. Takes no lock."""
        doc = _read_document(self.path)
        return {} if doc is None else doc

    def get(self, provider: str) -> dict[str, Any] | None:
        """Return ``provider``'s OAuth entry, None if absent; StoreCorrupt if it is malformed."""
        return _valid_entry(self.path, self.load(), provider)

    def put(self, provider: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` as ``provider``'s login (replacing the old one) under the lock."""
        with self.transaction() as tx:
            tx.put(provider, entry)

    def delete(self, provider: str) -> bool:
        """Remove ``provider``'s login under the lock; True if there was one to remove."""
        with self.transaction() as tx:
            return tx.delete(provider)

    def check_writable(self) -> None:
        """Raise what a save would raise, without saving: StoreUnsafe, or StoreWriteError when the
        directory (or the nearest one that exists) takes no new file. A damaged file is no
        obstacle: a save sets it aside. Creates nothing that stays."""
        with contextlib.suppress(StoreCorrupt):
            _read_document(self.path)
        directory = self.path.parent
        while not os.path.lexists(directory) and directory != directory.parent:
            directory = directory.parent
        probe = directory / f".{self.path.name}.{os.urandom(8).hex()}.tmp"
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

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)


class StoreTransaction:
    """The exclusive lock on the store, held from entering until leaving the block.

    Every read inside re-reads the file, and every write is one atomic replace (synchronous: an
    fsync takes milliseconds). Inside a transaction use its methods, not the store's:
    ``store.put`` would wait for this very lock and time out.
    """

    def __init__(self, store: CredentialStore, unless: Callable[[], bool] | None = None) -> None:
        self._store = store
        self._unless = unless
        self._fd: int | None = None
        self._entered = False
        # Hands the lock from the worker thread to the task; see __aenter__.
        self._handoff = threading.Lock()

    def __enter__(self) -> StoreTransaction:
        self._begin()
        self._fd = _acquire_lock(self._store.lock_path, self._store.lock_timeout, self._unless)
        if self._fd is not None:
            self._announce()
        return self

    @property
    def held(self) -> bool:
        """True while this transaction holds the lock (False when ``unless`` ended the wait)."""
        return self._fd is not None

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
        return self._store.load()

    def get(self, provider: str) -> dict[str, Any] | None:
        """Re-read ``provider``'s entry under the lock, validated as ``CredentialStore.get``."""
        self._check_held()
        return self._store.get(provider)

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

    def _acquire_unless(self, abandoned: threading.Event) -> None:
        fd = _acquire_lock(self._store.lock_path, self._store.lock_timeout, abandoned.is_set)
        if fd is None:
            return
        with self._handoff:
            if abandoned.is_set():
                _unlock(fd)
            else:
                self._fd = fd

    def _announce(self) -> None:
        try:
            self._store._step("lock-acquired")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        with self._handoff:
            fd, self._fd = self._fd, None
        if fd is not None:
            _unlock(fd)

    def _check_held(self) -> None:
        if self._fd is None:
            raise RuntimeError("Use the store transaction inside its `with` block.")

    def _read_for_write(self, provider: str) -> tuple[dict[str, Any], bool]:
        """Return the document to change and whether the file had to be set aside first."""
        store = self._store
        try:
            doc = _read_document(store.path)
        except StoreCorrupt:
            store.last_backup = _set_aside(store.path)
            return {}, True
        if doc is None:
            return {}, False
        if provider in doc and _entry_problem(doc[provider]) is not None:
            store.last_backup = _set_aside(store.path)
            return doc, True
        return doc, False

    def _write(self, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("ascii")
        _replace_file(self._store.path, data, self._store._step)
        _remove_stale_temps(self._store.path)


# --- reading -----------------------------------------------------------------------------------


def _read_document(path: Path) -> dict[str, Any] | None:
    """Parse the store; None when it does not exist. Raises StoreUnsafe or StoreCorrupt."""
    data = _read_bytes(path)
    if data is None:
        return None
    try:
        return _parse(path, data)
    except StoreCorrupt:
        # pi writes oauth.json in place (truncate, then write), so a read can land inside one of
        # its writes. A second look a moment later tells a torn read from a damaged file.
        _pause_for_other_writer()
        again = _read_bytes(path)
        if again is None:
            return None
        if again == data:
            raise
        return _parse(path, again)


def _pause_for_other_writer() -> None:
    time.sleep(TORN_READ_PAUSE_SECONDS)


def _read_bytes(path: Path) -> bytes | None:
    """Return the file's bytes after the safety checks; None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _unreadable(path, error) from error
    _check_safe(path, st)
    _check_size(path, st.st_size)
    try:
        fd = os.open(path, os.O_RDONLY | _SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # became a symlink since the lstat
            raise StoreUnsafe(_symlink_message(path)) from error
        raise _unreadable(path, error) from error
    try:
        st = os.fstat(fd)
        _check_safe(path, st)
        _check_size(path, st.st_size)
        return _read_all(fd)
    except OSError as error:
        raise _unreadable(path, error) from error
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_BYTES:
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _parse(path: Path, data: bytes) -> dict[str, Any]:
    """Decode the store's bytes into its document, or raise StoreCorrupt saying why not."""
    _check_size(path, len(data))
    if b"\x00" in data:
        raise StoreCorrupt(f"{path} contains NUL bytes, so it is not JSON text. {_KEPT}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # `from None` throughout: these errors carry the whole document, tokens included.
        raise StoreCorrupt(f"{path} is not UTF-8 text (bad byte at offset {error.start}). {_KEPT}") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise StoreCorrupt(f"{path} is not valid JSON ({error.msg} at {where}). {_KEPT}") from None
    except ValueError:
        raise StoreCorrupt(f"{path} uses NaN or Infinity, which JSON does not allow. {_KEPT}") from None
    except RecursionError:
        raise StoreCorrupt(f"{path} is nested too deeply to be pi's credential file. {_KEPT}") from None
    if not isinstance(doc, dict):
        kind = _json_kind(doc)
        raise StoreCorrupt(f"{path} holds a JSON {kind}, not an object keyed by provider. {_KEPT}")
    return doc


_KEPT = (
    "It is kept as it is: fix it by hand, or log in again and pi-tui will copy it aside "
    "(oauth.json.corrupt-<date>-<time>) and start a new file."
)


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None or isinstance(value, bool):
        return "literal"
    return "number"


def _check_size(path: Path, size: int) -> None:
    if size > MAX_BYTES:
        raise StoreCorrupt(
            f"{path} is {size} bytes, more than the {MAX_BYTES // (1024 * 1024)} MiB a "
            f"credential file can be. {_KEPT}"
        )


def _unreadable(path: Path, error: OSError) -> StoreCorrupt:
    if error.errno == errno.ENOTDIR:
        # A file where the agent directory should be: a mistake in the path, not in the disk.
        blocker = next((p for p in path.parents if os.path.isfile(p)), path.parent)
        return StoreCorrupt(
            f"{path} cannot be used: {blocker} is a file, not a directory. Point --agent-dir "
            "(or $PI_CODING_AGENT_DIR) at pi's agent directory, e.g. ~/.pi/agent."
        )
    return StoreCorrupt(
        f"{path} cannot be read ({error.strerror}). It is kept as it is; check the disk and the "
        f"file's permissions (ls -l {_quote(path)})."
    )


# --- validation --------------------------------------------------------------------------------


def _valid_entry(path: Path, doc: dict[str, Any], provider: str) -> dict[str, Any] | None:
    if provider not in doc:
        return None
    entry = doc[provider]
    problem = _entry_problem(entry)
    if problem is not None:
        raise StoreCorrupt(
            f"The {provider} login in {path} is not in pi's format ({problem}). It is kept as "
            f"it is and the other logins still work; log in to {provider} again to replace it."
        )
    valid: dict[str, Any] = entry
    return valid


def _entry_problem(entry: object) -> str | None:
    """Say what keeps ``entry`` from being a pi OAuth entry (never quoting its values)."""
    if not isinstance(entry, dict):
        return "it is not a JSON object"
    if entry.get("type") != "oauth":
        return '"type" is not "oauth"'
    for key in ("access", "refresh"):
        if not isinstance(entry.get(key), str):
            return f'"{key}" is missing or not a string'
    expires = entry.get("expires")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(expires):
        return '"expires" is missing or not a finite number'
    return None


def _check_storable(provider: str, entry: dict[str, Any]) -> None:
    """Raise ValueError (a caller's bug, before any file is touched) for an entry pi can't use."""
    problem = _entry_problem(entry)
    if problem is None:
        try:
            json.dumps(entry, allow_nan=False)
        except (TypeError, ValueError) as error:
            problem = f"it is not plain JSON ({error})"
    if problem is not None:
        raise ValueError(f"Refusing to store the {provider} login: {problem}.")


def _check_provider(provider: object) -> None:
    if not isinstance(provider, str) or not provider:
        raise ValueError("A provider id must be a non-empty string.")


def _check_safe(path: Path, st: os.stat_result) -> None:
    """Raise StoreUnsafe unless ``st`` is a regular file of ours that nobody else can use."""
    _check_kind_and_owner(path, st)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise StoreUnsafe(
            f"{path} is {_exposure(mode)} by other users (mode {mode:04o}). Run: chmod 600 {_quote(path)}"
        )


def _check_kind_and_owner(path: Path, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise StoreUnsafe(_symlink_message(path))
    if not stat.S_ISREG(st.st_mode):
        raise StoreUnsafe(
            f"{path} is {_file_kind(st.st_mode)}, not a regular file. Move it out of the way "
            f"(mv {_quote(path)} {_quote(str(path) + '.moved')}) so pi-tui can create the file."
        )
    euid = os.geteuid()
    if st.st_uid != euid:
        raise StoreUnsafe(
            f"{path} belongs to another user (uid {st.st_uid}), not to you (uid {euid}). "
            f"If it is yours, run: sudo chown {euid} {_quote(path)}"
        )


def _symlink_message(path: Path) -> str:
    try:
        target = f" to {os.readlink(path)}"
    except OSError:
        target = ""
    return (
        f"{path} is a symbolic link{target}; pi-tui does not follow links to credentials. "
        f"Replace the link with the file itself (or remove it: rm {_quote(path)})."
    )


def _exposure(mode: int) -> str:
    readable, writable = bool(mode & 0o044), bool(mode & 0o022)
    if readable and writable:
        return "readable and writable"
    if readable:
        return "readable"
    if writable:
        return "writable"
    return "usable"


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _quote(path: Path | str) -> str:
    import shlex  # only error messages need it

    return shlex.quote(str(path))


# --- writing -----------------------------------------------------------------------------------


def _replace_file(path: Path, data: bytes, step: Callable[[str], None]) -> None:
    """Atomically make ``data`` the content of ``path``: temp file, fsync, rename, fsync dir."""
    directory = path.parent
    step("before-temp")
    temp = directory / f".{path.name}.{os.urandom(8).hex()}.tmp"
    fd: int | None = None
    created = renamed = False
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN, 0o600)
        created = True
        os.fchmod(fd, 0o600)  # the umask may have taken bits away; it cannot have added any
        _write_all(fd, data)
        step("temp-written")
        step("before-fsync")
        os.fsync(fd)
        step("fsynced")
        os.close(fd)
        fd = None
        step("before-rename")
        os.replace(temp, path)
        renamed = True
        step("renamed")
    except BaseException as error:
        _discard_temp(fd, temp if created and not renamed else None)
        if isinstance(error, OSError):
            raise _write_error(path, error) from error
        raise
    _fsync_dir(directory)
    step("dir-fsynced")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _discard_temp(fd: int | None, temp: Path | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    if temp is not None:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        # The rename is done and every process already sees the new file; only its survival of
        # a power cut is in doubt. Failing now would tell the caller the old file is still there.
        pass


def _write_error(path: Path, error: OSError, action: str = "save") -> StoreWriteError:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EIO: "an I/O error",
    }
    reason = reasons.get(error.errno or 0, error.strerror or "an unexpected error")
    code = errno.errorcode.get(error.errno or 0, "?")
    return StoreWriteError(
        f"Could not save {path}: {reason} ({code}). The old file is unchanged; fix that and try again.",
        reason=f"{reason} ({code})",
    )


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files that a crashed writer left behind more than a minute ago."""
    prefix, cutoff = f".{path.name}.", time.time() - STALE_TEMP_SECONDS
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        candidate = path.parent / name
        try:
            st = os.lstat(candidate)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mtime < cutoff:
                os.unlink(candidate)
        except OSError:
            continue


def _set_aside(path: Path) -> Path:
    """Keep a damaged store as ``oauth.json.corrupt-YYYYMMDD-HHMMSS[-N]`` (0600); return it."""
    base = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1000):
        backup = path.with_name(base if attempt == 0 else f"{base}-{attempt}")
        try:
            _copy_exclusive(path, backup)
        except FileExistsError:
            continue
        except OSError as error:
            raise StoreWriteError(
                f"{path} is damaged and could not be copied aside ({error.strerror}), so it was "
                f"not replaced. Move it away yourself (mv {_quote(path)} {_quote(backup)}) and "
                f"try again."
            ) from error
        return backup
    raise StoreWriteError(f"Too many copies of {path} are already set aside; remove some.")


def _copy_exclusive(path: Path, backup: Path) -> None:
    """Make ``backup`` hold ``path``'s bytes; FileExistsError if ``backup`` already exists."""
    try:
        # A hard link keeps the exact bytes even of a file we cannot read, in one atomic step;
        # the rename that follows moves only the name "oauth.json" to the new file.
        os.link(path, backup, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        _copy_bytes(path, backup)  # e.g. a file system without hard links
    os.chmod(backup, 0o600)


def _copy_bytes(path: Path, backup: Path) -> None:
    source = os.open(path, os.O_RDONLY | _SAFE_OPEN)
    try:
        target = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN, 0o600)
        try:
            while chunk := os.read(source, _READ_CHUNK):
                _write_all(target, chunk)
            os.fsync(target)
        except BaseException:
            os.close(target)
            os.unlink(backup)
            raise
        os.close(target)
    finally:
        os.close(source)


# --- the lock ----------------------------------------------------------------------------------


def _acquire_lock(lock_path: Path, timeout: float, stop: Callable[[], bool] | None = None) -> int | None:
    """Return a descriptor holding the exclusive lock; None if ``stop()`` said to give up."""
    fd = _open_lock_file(lock_path)
    held = False
    try:
        held = _wait_for_flock(fd, lock_path, timeout, stop)
    finally:
        if not held:
            os.close(fd)
    return fd if held else None


def _wait_for_flock(fd: int, lock_path: Path, timeout: float, stop: Callable[[], bool] | None) -> bool:
    import fcntl  # POSIX only, and only writers need it

    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        except OSError as error:
            raise StoreWriteError(f"Could not lock {lock_path}: {error.strerror}.") from error
        if stop is not None and stop():
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StoreLockTimeout(
                f"Another pi-tui or pi process has held {lock_path} for {timeout:g} s; try "
                f"again, or see which process holds it with: lsof {_quote(lock_path)}"
            )
        time.sleep(min(LOCK_POLL_SECONDS, remaining))


def _open_lock_file(lock_path: Path) -> int:
    """Open (creating 0600 if needed) the permanent lock file; refuse a link or a stranger's."""
    _ensure_dir(lock_path.parent)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _SAFE_OPEN, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StoreUnsafe(_symlink_message(lock_path)) from error
        if error.errno == errno.EISDIR:
            raise StoreUnsafe(
                f"{lock_path} is a directory, not a lock file. Remove it "
                f"(rmdir {_quote(lock_path)}) if no other program is using it."
            ) from error
        raise _write_error(lock_path, error, "create") from error
    try:
        st = os.fstat(fd)
        _check_kind_and_owner(lock_path, st)
        if stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)  # it holds nothing, so fixing it is safe and saves the user a step
    except OSError as error:
        os.close(fd)
        raise _write_error(lock_path, error, "prepare") from error
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlock(fd: int) -> None:
    """Let the lock go. The lock file stays: deleting it would let two holders lock two files."""
    import fcntl

    try:
        # Explicit, because a child forked meanwhile shares the descriptor and would keep it.
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _ensure_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents as 0700; an existing one keeps its mode."""
    missing: list[Path] = []
    current = directory
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        except OSError as error:
            raise _write_error(folder, error, "create") from error
        try:
            os.chmod(folder, 0o700)  # the umask may have taken the owner's bits
        except OSError as error:
            raise _write_error(folder, error, "create") from error
