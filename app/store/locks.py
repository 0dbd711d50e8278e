"""The two store locks: flock for ``oauth.json``, pi's directory lock for ``auth.json``.

``oauth.json``: ``flock`` on the permanent sibling ``oauth.json.lock``, opened once per
transaction (not the ``filelock`` package: that one is reentrant and thread-local, so a second
asyncio task on the same thread would walk into a lock its neighbour holds). The kernel drops
it when the holder dies. ``fcntl`` is imported only here, only for that format.

``auth.json``: pi's protocol (npm ``proper-lockfile``). ``mkdir auth.json.lock`` is the
acquisition (atomic), ``rmdir`` the release. The holder refreshes the directory's mtime from a
thread every few seconds; a lock whose mtime is older than ``stale`` seconds was left by a dead
process and is taken over. Before a write the holder checks the directory is still the one it
made (inode and the mtime it last set): if another process took it over, nothing is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from pathlib import Path

from app.errors import StoreLockLost, StoreLockTimeout, StoreUnsafe, StoreWriteError
from app.store.document import (
    SAFE_OPEN,
    check_kind_and_owner,
    ensure_dir,
    quote,
    symlink_message,
    write_error,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

LOCK_SUFFIX = ".lock"
# How long a writer waits for the lock. pi waits up to 30 s for its lock directory; pi-tui
# waits a little longer. An flock is held by a pi-tui for milliseconds, or for one refresh.
DIR_LOCK_TIMEOUT = 35.0
FLOCK_TIMEOUT = 10.0
# pi's proper-lockfile settings: a lock untouched for 30 s is abandoned; pi's async holder
# touches it every 15 s and its synchronous path gives up on a lock after 10 s, so ours is
# touched every 5 s.
STALE_SECONDS = 30.0
HEARTBEAT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.025
BACKOFF_FIRST = 0.02
BACKOFF_MAX = 0.1


class FlockHeld:
    """The flock on ``oauth.json.lock``, held through an open descriptor."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def check(self) -> None:
        """An flock cannot be taken away from its holder; nothing to check."""

    def release(self) -> None:
        """Let the lock go. The lock file stays: deleting it would let two holders lock two files."""
        _unlock(self._fd)


def acquire_flock(
    lock_path: Path, timeout: float, stop: Callable[[], bool] | None = None
) -> FlockHeld | None:
    """Hold the flock on ``lock_path``; None if ``stop()`` said to give up while waiting."""
    fd = _acquire_lock(lock_path, timeout, stop)
    return None if fd is None else FlockHeld(fd)


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
                f"again, or see which process holds it with: lsof {quote(lock_path)}"
            )
        time.sleep(min(LOCK_POLL_SECONDS, remaining))


def _open_lock_file(lock_path: Path) -> int:
    """Open (creating 0600 if needed) the permanent lock file; refuse a link or a stranger's."""
    ensure_dir(lock_path.parent)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | SAFE_OPEN, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StoreUnsafe(symlink_message(lock_path)) from error
        if error.errno == errno.EISDIR:
            raise StoreUnsafe(
                f"{lock_path} is a directory, not a lock file. Remove it "
                f"(rmdir {quote(lock_path)}) if no other program is using it."
            ) from error
        raise write_error(lock_path, error, "create") from error
    try:
        st = os.fstat(fd)
        check_kind_and_owner(lock_path, st)
        if stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)  # it holds nothing, so fixing it is safe and saves the user a step
    except OSError as error:
        os.close(fd)
        raise write_error(lock_path, error, "prepare") from error
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlock(fd: int) -> None:
    """Let the lock go. The lock file stays: deleting it would let two holders lock two files."""
    import fcntl  # POSIX only, and only writers need it: `pi-tui status` and `token` read

    try:
        # Explicit, because a child forked meanwhile shares the descriptor and would keep it.
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_lock_file(lock_path: Path) -> None:
    """Delete the flock file of an ``oauth.json`` that is gone (``pi-tui migrate``), unless
    someone holds it or it is not a plain file of ours. Holding it while deleting it means no
    process is inside a transaction on it at that moment."""
    import fcntl  # POSIX only, and only writers need it: `pi-tui status` and `token` read

    try:
        fd = os.open(lock_path, os.O_RDWR | SAFE_OPEN)
    except OSError:
        return  # gone, a link, or not ours to open
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # held (or cannot be): leave it
        st = os.fstat(fd)
        here = _lstat(lock_path)
        same = here is not None and _stamp(here)[:2] == _stamp(st)[:2]
        if same and stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
    finally:
        os.close(fd)  # drops the flock


# --- pi's directory lock (auth.json) -----------------------------------------------------------


class DirLockHeld:
    """pi's lock directory, made by us; a daemon thread keeps its mtime fresh until release.

    Only a writer holds one: ``threading`` and ``signal`` are imported here, not by readers.
    """

    def __init__(self, path: Path, heartbeat: float) -> None:
        import threading

        self.path = path
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._mark = _stamp(os.lstat(path))
        self._interval = heartbeat
        self._previous_term: Any = None
        self._thread = threading.Thread(target=self._beat, name="pi-tui-lock-heartbeat", daemon=True)
        self._thread.start()
        self._route_sigterm()

    def check(self) -> None:
        """Raise StoreLockLost unless the lock directory is still the one we made and touched."""
        with self._mutex:
            if self._ours():
                return
        raise StoreLockLost(
            f"Another process took over the lock {self.path} while pi-tui held it, so nothing "
            f"was written. Try again."
        )

    def release(self) -> None:
        """Stop the heartbeat and remove the directory, unless another process has taken it over."""
        import threading

        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with self._mutex:
            if self._ours():
                with contextlib.suppress(OSError):
                    os.rmdir(self.path)
        self._restore_sigterm()

    def touch(self) -> None:
        """Refresh the mtime now (the heartbeat does this every ``heartbeat`` seconds)."""
        with self._mutex:
            if not self._ours():
                return
            now = time.time_ns()
            os.utime(self.path, ns=(now, now), follow_symlinks=False)
            self._mark = _stamp(os.lstat(self.path))

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            # A failed touch (the directory vanished, a read-only remount) is found by check().
            with contextlib.suppress(OSError):
                self.touch()

    def _ours(self) -> bool:
        try:
            return _stamp(os.lstat(self.path)) == self._mark
        except OSError:
            return False

    def _route_sigterm(self) -> None:
        # SIGTERM would end the process without unwinding, leaving the directory for 30 s (pi's
        # synchronous path then waits 10 s). Turn it into Ctrl-C, which unwinds and releases.
        # Only from the main thread, and only when nobody else has a handler in place.
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self._previous_term = signal.signal(signal.SIGTERM, term_as_interrupt)

    def _restore_sigterm(self) -> None:
        import signal
        import threading

        previous, self._previous_term = self._previous_term, None
        if previous is not None and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, previous)


def term_as_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler that takes the Ctrl-C path: the stack unwinds, so a held lock is released
    and (under asyncio.run, which cancels its task on SIGINT) an answer in flight is saved."""
    import signal

    signal.raise_signal(signal.SIGINT)


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def acquire_dir_lock(
    lock_path: Path,
    timeout: float,
    stop: Callable[[], bool] | None = None,
    *,
    stale: float = STALE_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> DirLockHeld | None:
    """Make pi's lock directory; None if ``stop()`` said to give up while waiting.

    Waits with jittered backoff while another live process holds it, takes over a lock whose
    mtime is older than ``stale`` seconds, and gives up after ``timeout`` seconds with a
    sentence naming the directory (StoreLockTimeout).
    """
    import random  # only a writer of auth.json that has to wait needs the jitter

    ensure_dir(lock_path.parent)
    deadline = time.monotonic() + timeout
    delay = BACKOFF_FIRST
    while True:
        try:
            os.mkdir(lock_path, 0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise write_error(lock_path, error, "create") from error
        else:
            try:
                return DirLockHeld(lock_path, heartbeat)
            except FileNotFoundError:
                continue  # removed the moment we made it (a pi taking over): nothing of ours is left
            except BaseException:
                with contextlib.suppress(OSError):
                    os.rmdir(lock_path)
                raise
        seen = _lstat(lock_path)
        if seen is None:
            continue  # released between our mkdir and our look: try again at once
        _check_lock_dir(lock_path, seen)
        if time.time() - seen.st_mtime > stale:
            _take_over(lock_path, stale, deadline)
            continue
        if stop is not None and stop():
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StoreLockTimeout(
                f"Another pi or pi-tui process has held the lock {lock_path} for {timeout:g} s; "
                f"try again. If no pi is running, the lock was left behind: remove it "
                f"(rmdir {quote(lock_path)})."
            )
        time.sleep(min(remaining, delay * (0.5 + random.random())))
        delay = min(delay * 2, BACKOFF_MAX)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _check_lock_dir(lock_path: Path, st: os.stat_result) -> None:
    """Refuse what pi-tui must not wait for or take over: a file, a link, a stranger's lock."""
    if stat.S_ISLNK(st.st_mode):
        raise StoreUnsafe(
            f"{lock_path} is a symbolic link, not pi's lock directory. If no pi is running, "
            f"remove it (rm {quote(lock_path)})."
        )
    if not stat.S_ISDIR(st.st_mode):
        raise StoreUnsafe(
            f"{lock_path} is a plain file, not pi's lock directory, so neither pi nor pi-tui can "
            f"take the lock. If no pi is running, remove it (rm {quote(lock_path)})."
        )
    euid = os.geteuid()
    if st.st_uid != euid:
        raise StoreUnsafe(
            f"The lock {lock_path} belongs to another user (uid {st.st_uid}), not to you "
            f"(uid {euid}). If no pi is running as that user, remove it (sudo rmdir {quote(lock_path)})."
        )


def _take_over(lock_path: Path, stale: float, deadline: float) -> None:
    """Move an abandoned lock aside, so that the next mkdir can succeed.

    Takers go one at a time (:func:`_one_taker_at_a_time`) and look at the lock again first:
    only a lock that is still abandoned is moved. Without that, two takers that both saw the
    abandoned lock could each move "it", the second moving the fresh lock the first had just
    made, and two processes would hold the lock at once. ``rename`` moves it atomically to a
    name that is ours alone; if what we moved is not what we looked at (pi, which does not
    take our turn, replaced it in between), it is put back when its name is still free.
    """
    with _one_taker_at_a_time(lock_path.parent, deadline) as turn:
        if not turn:
            return  # the caller's loop waits, and gives up at its deadline
        seen = _lstat(lock_path)
        if seen is None:
            return
        _check_lock_dir(lock_path, seen)
        if time.time() - seen.st_mtime <= stale:
            return  # another taker was first and its lock is fresh: wait for it
        aside = lock_path.with_name(f"{lock_path.name}.stale-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            os.rename(lock_path, aside)
        except FileNotFoundError:
            return
        except OSError as error:
            raise write_error(lock_path, error, "take over") from error
        moved = _lstat(aside)
        if moved is not None and _stamp(moved) != _stamp(seen) and not os.path.lexists(lock_path):
            with contextlib.suppress(OSError):
                os.rename(aside, lock_path)
                return
        with contextlib.suppress(OSError):
            os.rmdir(aside)


@contextlib.contextmanager
def _one_taker_at_a_time(directory: Path, deadline: float) -> Iterator[bool]:
    """An flock on the lock's directory while a taker looks and moves; False if not had by ``deadline``.

    No file is made for it and the kernel drops it when a taker dies, so a killed taker leaves
    nothing behind. pi's own takers don't take it (pi-tui's turn excludes pi-tui processes and
    threads only), and a platform without ``fcntl`` takes over without it, as pi does.
    """
    try:
        import fcntl  # POSIX only, and only writers need it: `pi-tui status` and `token` read
    except ImportError:
        yield True
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise write_error(directory, error, "lock") from error
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(LOCK_POLL_SECONDS / 5)  # a turn lasts a few system calls
        yield True
    finally:
        os.close(fd)  # drops the flock
