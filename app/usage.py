"""Subscription usage: fetched through each provider's ``usage`` hook, cached, shown with its age.

One cache file per (credential file, provider) in pi-tui's state directory, ``usage/``: what
the provider last said (never a token), when, and until when that answer is fresh (5 minutes
plus up to one minute of jitter, so processes started together do not ask together). The last
good answer is kept when a fetch fails, and shown with its age.

At most one request per provider per period, across processes: a fetch takes the provider's
lock file (flock) and reads the cache again under it, so a second process that waited finds
the first one's answer. ``refresh`` asks now, unless another process asked since we started.
A failed fetch counts as a request too: it is not tried again before the period ends.

A test call's answer carries rate-limit headers on some providers (``usage_from_headers``):
:meth:`UsageBook.take_live` writes them as a fresh answer, merged into the last full one
(:func:`merged`), so the next look costs no request.

Files are created 0600 with ``O_NOFOLLOW`` and replaced atomically. Light at import (no
asyncio, no httpx): ``pi-tui usage --short`` reads the cache alone.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from app.errors import PiTuiError
from app.providers.base import Usage, UsageWindow
from app.records import NamedTuple
from app.state import state_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

    from app.providers import ProviderInfo

PERIOD_MS = 5 * 60_000
JITTER_MS = 60_000
LOCK_WAIT_S = 30.0
LOCK_POLL_S = 0.05
VERSION = 1
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC
MAX_FILE = 1 << 16

# Why a provider shows no usage (the report's ``reason``).
NO_HOOK = "usage not available"
NOT_LOGGED_IN = "not logged in"
API_KEY_ONLY = "usage not available for API keys"
ENV_TOKEN = "usage is read for stored logins only"


class UsageReport(NamedTuple):
    """One provider's usage as shown: the answer (maybe cached), its age, the last failure.

    ``usage`` None with a ``reason``: nothing to show (no hook, an API key, not logged in).
    ``error``: the last fetch failed (one sentence); ``usage`` is then the last good answer,
    if any, fetched at ``fetched_at``. ``cached``: read from the cache, no request made.
    """

    provider: str
    name: str
    usage: Usage | None = None
    fetched_at: int | None = None
    error: str | None = None
    reason: str | None = None
    cached: bool = False

    @property
    def available(self) -> bool:
        """True when there is an answer with something in it."""
        return self.usage is not None and has_content(self.usage)

    def tightest(self) -> UsageWindow | None:
        """The window with the highest used percentage (the one that runs out first)."""
        if self.usage is None:
            return None
        windows = [w for w in self.usage.windows if w.used_percent is not None]
        return max(windows, key=lambda w: w.used_percent or 0.0, default=None)

    def to_json(self, *, now_ms: int) -> dict[str, Any]:
        """The ``pi-tui usage --json`` form of one provider."""
        usage = self.usage if self.available else None
        return {
            "provider": self.provider,
            "name": self.name,
            "available": self.available,
            "windows": [
                {"name": w.name, "used_percent": w.used_percent, "resets_at": w.resets_at}
                for w in (usage.windows if usage else ())
            ],
            "plan": usage.plan if usage else None,
            "credits": dict(usage.credits) if usage and usage.credits else None,
            "extra": dict(usage.extra) if usage and usage.extra else None,
            "notes": list(usage.notes) if usage else [],
            "fetched_at": self.fetched_at,
            "age_seconds": None if self.fetched_at is None else max(0, (now_ms - self.fetched_at) // 1000),
            "cached": self.cached,
            "error": self.error,
            "reason": self.reason if not self.available else None,
        }


def has_content(usage: Usage) -> bool:
    """An answer of another shape parses to nothing: that is "usage not available"."""
    return bool(usage.windows or usage.plan or usage.credits or usage.extra)


# -- the cache's JSON form -------------------------------------------------------------------


def usage_to_json(usage: Usage) -> dict[str, Any]:
    """A Usage as JSON (no secret in it)."""
    return {
        "windows": [[w.name, w.used_percent, w.resets_at] for w in usage.windows],
        "plan": usage.plan,
        "credits": dict(usage.credits) if usage.credits else None,
        "extra": dict(usage.extra) if usage.extra else None,
        "notes": list(usage.notes),
    }


def usage_from_json(doc: object) -> Usage | None:
    """A Usage from the cache; None for anything of another shape (an edited or old file)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("windows"), list):
        return None
    windows = []
    for item in doc["windows"]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
            return None
        name, used, resets = item
        used = float(used) if isinstance(used, int | float) and not isinstance(used, bool) else None
        resets = resets if isinstance(resets, int) and not isinstance(resets, bool) else None
        windows.append(UsageWindow(name, used, resets))
    plan = doc.get("plan") if isinstance(doc.get("plan"), str) else None
    credits = doc.get("credits") if isinstance(doc.get("credits"), dict) else None
    extra = doc.get("extra") if isinstance(doc.get("extra"), dict) else None
    notes = (
        tuple(n for n in doc.get("notes") or () if isinstance(n, str))
        if isinstance(doc.get("notes"), list)
        else ()
    )
    return Usage(tuple(windows), plan, credits, extra, notes)


def merged(last: Usage | None, live: Usage) -> Usage:
    """``live`` (a test call's headers) over ``last`` (the last full answer): windows named alike
    are replaced in place, new ones added after; the notes are ``live``'s (they tell the state
    now, e.g. "limit reached"); the plan, credits and extra usage only a full answer tells are kept.
    """
    if last is None:
        return live
    fresh = {w.name: w for w in live.windows}
    windows = [fresh.pop(w.name, w) for w in last.windows]
    windows += [w for w in live.windows if w.name in fresh]
    return last._replace(windows=tuple(windows), notes=live.notes)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Record(NamedTuple):
    """One provider's cache file: the last good answer, the last failure, when to ask again."""

    usage: Usage | None = None
    fetched_at: int | None = None
    error: str | None = None
    failed_at: int | None = None
    fresh_until: int = 0
    # Whose answer this is (see login_key): another login's answer is never shown.
    login: str | None = None

    @property
    def asked_at(self) -> int:
        """When the last request was made (it succeeded or failed)."""
        return max(self.fetched_at or 0, self.failed_at or 0)

    def report(self, info: ProviderInfo, *, cached: bool) -> UsageReport:
        """What this record shows for ``info``."""
        failed = self.failed_at is not None and self.failed_at >= (self.fetched_at or 0)
        return UsageReport(
            info.id,
            info.name,
            self.usage,
            self.fetched_at,
            self.error if failed else None,
            None if self.usage is None or has_content(self.usage) else NO_HOOK,
            cached,
        )


class UsageCache:
    """The cache files of one credential file's logins (``<state>/usage/<store key>-<provider>.json``)."""

    def __init__(self, directory: Path, store_path: Path) -> None:
        self.directory = Path(directory)
        self.store = os.path.realpath(store_path)
        raw = self.store.encode("utf-8", "surrogateescape")
        # Two checksums (hashlib costs ~14 ms on the `--short` path); the file names its store too.
        self.key = f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"

    @classmethod
    def for_store(cls, store_path: Path, env: Mapping[str, str] | None = None) -> UsageCache:
        """The cache in pi-tui's state directory: ``$PI_TUI_STATE_DIR`` from ``env``, else the
        process's (as :func:`app.credentials.state_file`: never the real home's by accident)."""
        return cls(state_dir(env if env and env.get("PI_TUI_STATE_DIR") else None) / "usage", store_path)

    def __repr__(self) -> str:
        return f"UsageCache({str(self.directory)!r})"

    def path(self, provider_id: str) -> Path:
        """The cache file of ``provider_id``."""
        return self.directory / f"{self.key}-{provider_id}.json"

    def read(self, provider_id: str) -> Record | None:
        """The record, or None when there is none (or it is unreadable, or another store's)."""
        try:
            fd = os.open(self.path(provider_id), os.O_RDONLY | _SAFE | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                doc = json.loads(handle.read(MAX_FILE))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(doc, dict) or doc.get("version") != VERSION or doc.get("store") != self.store:
            return None
        error = doc.get("error") if isinstance(doc.get("error"), str) else None
        login = doc.get("login") if isinstance(doc.get("login"), str) else None
        return Record(
            usage_from_json(doc.get("usage")),
            _int(doc.get("fetched_at")),
            error,
            _int(doc.get("failed_at")),
            _int(doc.get("fresh_until")) or 0,
            login,
        )

    def write(self, provider_id: str, record: Record) -> None:
        """Replace the record atomically (a new 0600 file, never through a symlink).

        A cache that cannot be written costs only the next request: the failure is swallowed.
        """
        doc = {
            "version": VERSION,
            "store": self.store,
            "provider": provider_id,
            "login": record.login,
            "usage": usage_to_json(record.usage) if record.usage is not None else None,
            "fetched_at": record.fetched_at,
            "error": record.error,
            "failed_at": record.failed_at,
            "fresh_until": record.fresh_until,
        }
        target = self.path(provider_id)
        temp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, sort_keys=True)
            os.replace(temp, target)
        except OSError:
            temp.unlink(missing_ok=True)

    def forget(self, provider_id: str) -> None:
        """Remove the record (after a logout)."""
        self.path(provider_id).unlink(missing_ok=True)

    def try_lock(self, provider_id: str) -> int | None:
        """Take the provider's lock without waiting: its descriptor, or None when another holds it.

        OSError when the lock file cannot be made (the caller then fetches without it).
        """
        import fcntl  # POSIX only, and only a fetch locks: `usage --short` reads

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.directory / f"{self.key}-{provider_id}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | _SAFE, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


Fetch = Callable[[], Awaitable[Usage]]


class UsageBook:
    """Reads usage for one credential file: from the cache while fresh, else through ``fetch``."""

    def __init__(
        self,
        cache: UsageCache,
        *,
        clock_ms: Callable[[], int],
        period_ms: int = PERIOD_MS,
        jitter_ms: int = JITTER_MS,
        lock_wait_s: float = LOCK_WAIT_S,
    ) -> None:
        self.cache = cache
        self.clock_ms = clock_ms
        self.period_ms = period_ms
        self.jitter_ms = jitter_ms
        self.lock_wait_s = lock_wait_s

    def _fresh_until(self, now: int) -> int:
        return now + self.period_ms + int.from_bytes(os.urandom(4), "big") % (self.jitter_ms + 1)

    def take_live(self, info: ProviderInfo, live: Usage, *, login: str | None) -> None:
        """Store what a test call's headers told as a fresh answer for ``login``, merged into
        the last full one (:func:`merged`); fresh for a period, as if asked now.

        Skipped while another process holds the provider's lock: it is asking for a full answer.
        """
        try:
            fd = self.cache.try_lock(info.id)
        except OSError:
            fd = None  # no lock file here (a read-only state directory): write all the same
        else:
            if fd is None:
                return
        try:
            last = self._record(info.id, login)
            now = self.clock_ms()
            usage = merged(last.usage if last is not None else None, live)
            self.cache.write(info.id, Record(usage, now, None, None, self._fresh_until(now), login))
        finally:
            _release(fd)

    def cached(self, info: ProviderInfo, *, login: str | None = None) -> UsageReport | None:
        """What the cache holds for ``info`` (no request), None when nothing for this login."""
        record = self._record(info.id, login)
        return None if record is None else record.report(info, cached=True)

    def _record(self, provider_id: str, login: str | None) -> Record | None:
        record = self.cache.read(provider_id)
        if record is None or (login is not None and record.login != login):
            return None  # another login's answer (a new login, another account)
        return record

    async def report(
        self,
        info: ProviderInfo,
        fetch: Fetch,
        *,
        login: str | None = None,
        login_after: Callable[[], str | None] | None = None,
        refresh: bool = False,
    ) -> UsageReport:
        """The provider's usage: cached while fresh (unless ``refresh``), else fetched once.

        ``login`` (:func:`login_key`): whose answer to show; None takes any. ``login_after``:
        whose the fetched answer is, asked after the fetch (a refresh on the way rotates tokens).
        """
        import asyncio  # `pi-tui usage --short` reads the cache without it (a tmux status line)

        started = self.clock_ms()
        record = self._record(info.id, login)
        if record is not None and not refresh and started < record.fresh_until:
            return record.report(info, cached=True)
        fd: int | None = None
        try:
            deadline = asyncio.get_running_loop().time() + self.lock_wait_s
            while (fd := self.cache.try_lock(info.id)) is None:
                if asyncio.get_running_loop().time() >= deadline:
                    # Another process has been asking for longer than any request may take:
                    # show what there is rather than ask a second time.
                    busy = f"Another pi-tui process is still reading {info.name}'s usage; try again."
                    last = self._record(info.id, login) or Record()
                    return last._replace(error=busy, failed_at=self.clock_ms()).report(info, cached=True)
                await asyncio.sleep(LOCK_POLL_S)
        except OSError:
            fd = None  # no lock file here (a read-only state directory): ask all the same
        try:
            # Under the lock: another process may have asked while we waited.
            record = self._record(info.id, login)
            if record is not None:
                asked_since = record.asked_at > started
                if asked_since or (not refresh and self.clock_ms() < record.fresh_until):
                    return record.report(info, cached=True)
            return await self._fetch(info, fetch, record, login, login_after)
        finally:
            _release(fd)

    async def _fetch(
        self,
        info: ProviderInfo,
        fetch: Fetch,
        record: Record | None,
        login: str | None,
        login_after: Callable[[], str | None] | None,
    ) -> UsageReport:
        error: str | None = None
        try:
            usage = await fetch()
        except PiTuiError as exc:
            error = str(exc)
        except Exception as exc:  # a hook's bug must not cost the panel or the command
            import logging  # only a hook's bug logs: `usage --short` (a tmux status line) never does

            logging.getLogger("pi_tui.usage").warning(
                "usage of %s failed: %s", info.id, type(exc).__name__, exc_info=True
            )
            error = f"Could not read {info.name}'s usage ({type(exc).__name__}); see the log."
        if login_after is not None:
            login = login_after()
        now = self.clock_ms()
        fresh_until = self._fresh_until(now)
        if error is None:
            new = Record(usage, now, None, None, fresh_until, login)
        else:
            last = record or Record()
            new = Record(last.usage, last.fetched_at, error, now, fresh_until, login)
        self.cache.write(info.id, new)
        return new.report(info, cached=False)


def login_key(account: str | None, entry: Mapping[str, Any]) -> str:
    """Whose usage an answer is: the account (when known) and a CRC-32 of the login's refresh
    token (a new login, or a rotated token, asks anew). Far too little to learn the token from."""
    token = str(entry.get("refresh") or entry.get("access") or "").encode("utf-8", "replace")
    return f"{account or ''}#{zlib.crc32(token):08x}"


def unavailable(info: ProviderInfo, reason: str) -> UsageReport:
    """A report with nothing to show and why (no hook, an API key, not logged in)."""
    return UsageReport(info.id, info.name, reason=reason)
