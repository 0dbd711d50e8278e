"""The usage cache: its files, its period, its lock, and what a fetch that fails leaves behind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.http import make_client
from app.providers import provider
from app.providers.base import Usage, UsageWindow
from app.service import AuthService
from app.usage import PERIOD_MS, Record, UsageBook, UsageCache
from tests.fakes.server import FakeProviders
from tests.usage.helpers import seed, seed_all, store_in

USAGE = Usage((UsageWindow("5h", 61.0, 1_800_000_000_000),), plan="max")


class Clock:
    """A clock a test moves by hand (seconds)."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def service_for(
    fake: FakeProviders, tmp_path: Path, clock: Clock | None = None, **kwargs: Any
) -> AuthService:
    return AuthService(store_in(tmp_path), env=fake.env(), clock=clock or Clock(), **kwargs)


async def test_cache_file_is_0600_and_holds_no_token(
    fake: FakeProviders, tmp_path: Path, state_dir: Path
) -> None:
    service = service_for(fake, tmp_path)
    entries = seed_all(fake, service.store)
    for provider_id in entries:
        await service.usage(provider_id)
    files = sorted((state_dir / "usage").glob("*.json"))
    assert len(files) == len(entries)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        for entry in entries.values():
            assert entry["access"] not in text and entry["refresh"] not in text
    assert stat.S_IMODE((state_dir / "usage").stat().st_mode) == 0o700


async def test_the_period_ends_after_five_minutes_with_jitter(fake: FakeProviders, tmp_path: Path) -> None:
    clock = Clock()
    service = service_for(fake, tmp_path, clock)
    seed(fake, service.store, "anthropic")
    await service.usage("anthropic")
    clock.now += PERIOD_MS / 1000 - 1
    assert (await service.usage("anthropic")).cached
    assert fake.count("anthropic.usage") == 1
    clock.now += 62  # past the period and the largest jitter
    fresh = await service.usage("anthropic")
    assert not fresh.cached and fake.count("anthropic.usage") == 2


async def test_a_failed_fetch_is_not_retried_before_the_period_ends(
    fake: FakeProviders, tmp_path: Path
) -> None:
    clock = Clock()
    service = service_for(fake, tmp_path, clock)
    seed(fake, service.store, "anthropic")
    fake.fail("anthropic.usage", status=429, headers={"retry-after": "120"})
    first = await service.usage("anthropic")
    assert first.error and "rate limiting" in first.error and first.usage is None
    clock.now += 60
    again = await service.usage("anthropic")
    assert again.cached and again.error == first.error
    assert fake.count("anthropic.usage") == 1


async def test_another_accounts_answer_is_not_shown(fake: FakeProviders, tmp_path: Path) -> None:
    """The same login named by another account (a switch pi-tui learned of): asked anew."""
    service = service_for(fake, tmp_path)
    seed(fake, service.store, "anthropic")
    service.state.update(service.store.path, "anthropic", account="a@example.com")
    await service.usage("anthropic")
    service.state.update(service.store.path, "anthropic", account="b@example.com")
    report = await service.usage("anthropic")
    assert not report.cached and fake.count("anthropic.usage") == 2


async def test_a_new_login_asks_anew_and_a_refresh_on_the_way_keeps_the_answer(
    fake: FakeProviders, tmp_path: Path
) -> None:
    clock = Clock(4_102_444_800.0)  # 2100: the seeded logins are due
    service = service_for(fake, tmp_path, clock)
    seed(fake, service.store, "kimi-coding")
    await service.usage("kimi-coding")  # refreshes first (new tokens), then asks
    assert (await service.usage("kimi-coding")).cached  # the answer is the refreshed login's
    assert fake.count("kimi.usage") == 1 and fake.count("kimi.refresh") == 1
    seed(fake, service.store, "kimi-coding")  # another login, same provider
    clock.now += 1
    report = await service.usage("kimi-coding")
    assert not report.cached and fake.count("kimi.usage") == 2


async def test_a_hanging_server_is_given_up_with_a_sentence(fake: FakeProviders, tmp_path: Path) -> None:
    service = service_for(fake, tmp_path, client_factory=lambda: make_client(timeout=httpx.Timeout(1.0)))
    entry = seed(fake, service.store, "openai-codex")
    fake.fail("codex.usage", kind="hang")
    report = await service.usage("openai-codex")
    assert report.error is not None and "timed out" in report.error and "\n" not in report.error
    assert service.store.get("openai-codex") == entry


async def test_a_due_login_is_refreshed_before_asking(fake: FakeProviders, tmp_path: Path) -> None:
    service = service_for(fake, tmp_path, Clock(4_102_444_800.0))  # year 2100: the seeded login is due
    before = seed(fake, service.store, "kimi-coding")
    report = await service.usage("kimi-coding")
    after = service.store.get("kimi-coding")
    assert report.available and after is not None and after["access"] != before["access"]
    assert fake.count("kimi.refresh") == 1


def test_unreadable_and_foreign_cache_files_are_ignored(tmp_path: Path) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "agent" / "auth.json")
    info = provider("anthropic")
    book = UsageBook(cache, clock_ms=lambda: 1_790_000_000_000)
    cache.directory.mkdir()
    for junk in (b"", b"{", b"[]", b'{"version": 1}', b"\x00" * 10, b"[" * 100_000):
        cache.path("anthropic").write_bytes(junk)
        assert book.cached(info) is None
    other = UsageCache(tmp_path / "usage", tmp_path / "elsewhere" / "auth.json")
    other.write("anthropic", Record(USAGE, 1, fresh_until=2**50))
    os.replace(other.path("anthropic"), cache.path("anthropic"))  # another store's record
    assert book.cached(info) is None


def test_odd_records_in_the_cache_read_as_nothing_not_a_crash(tmp_path: Path) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    cache.write("anthropic", Record(USAGE, 1, fresh_until=2**50))
    doc = json.loads(cache.path("anthropic").read_text())
    doc["usage"]["windows"] = [["5h", "61", None], 3]
    cache.path("anthropic").write_text(json.dumps(doc))
    record = cache.read("anthropic")
    assert record is not None and record.usage is None


def test_a_symlinked_cache_file_is_neither_read_nor_followed_on_write(tmp_path: Path) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    cache.write("anthropic", Record(USAGE, 1, fresh_until=2**50))
    target = tmp_path / "elsewhere.json"
    os.replace(cache.path("anthropic"), target)
    cache.path("anthropic").symlink_to(target)
    assert cache.read("anthropic") is None
    victim = tmp_path / "victim"
    victim.write_text("keep")
    cache.path("anthropic").unlink()
    cache.path("anthropic").symlink_to(victim)
    cache.write("anthropic", Record(USAGE, 2, fresh_until=2**50))
    assert victim.read_text() == "keep"
    assert not cache.path("anthropic").is_symlink()
    assert cache.read("anthropic") is not None


def test_a_symlinked_lock_file_is_not_followed(tmp_path: Path) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    cache.directory.mkdir()
    victim = tmp_path / "victim"
    (cache.directory / f"{cache.key}-anthropic.lock").symlink_to(victim)
    with pytest.raises(OSError):
        cache.try_lock("anthropic")
    assert not victim.exists()


async def test_a_read_only_state_directory_still_gives_usage(
    fake: FakeProviders, tmp_path: Path, state_dir: Path
) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "usage").mkdir(mode=0o500)
    try:
        service = service_for(fake, tmp_path)
        seed(fake, service.store, "anthropic")
        report = await service.usage("anthropic")
        assert report.available and report.error is None
    finally:
        (state_dir / "usage").chmod(0o700)


async def test_a_hook_that_breaks_is_a_sentence_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    book = UsageBook(cache, clock_ms=lambda: 1_790_000_000_000)

    async def broken() -> Usage:
        raise KeyError("windows")

    report = await book.report(provider("anthropic"), broken)
    assert report.error == "Could not read Anthropic (Claude Pro/Max)'s usage (KeyError); see the log."
    assert report.usage is None and not report.available
    assert "KeyError" in caplog.text  # the log keeps what happened


def test_short_line_and_text_for_a_report_from_the_cache(tmp_path: Path) -> None:
    from app.usage_text import report_lines, short_line

    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    now = 1_790_000_000_000
    cache.write("anthropic", Record(USAGE, now - 2 * 3_600_000, fresh_until=now))
    report = UsageBook(cache, clock_ms=lambda: now).cached(provider("anthropic"))
    assert report is not None and report.cached
    assert short_line([("claude", report)], now) == "claude 61% (2h 00m old)"
    assert report_lines([report], now, ascii=True) == [
        "Anthropic  5h ##########------  61% - resets in 115d 17h",
        "           plan max",
        "           as of 2h 00m ago",
    ]


async def test_a_lock_held_too_long_shows_the_cache_and_asks_no_one(tmp_path: Path) -> None:
    cache = UsageCache(tmp_path / "usage", tmp_path / "auth.json")
    now = 1_790_000_000_000
    cache.write("anthropic", Record(USAGE, now - 3_600_000, fresh_until=now - 1))
    book = UsageBook(cache, clock_ms=lambda: now, lock_wait_s=0.2)
    held = cache.try_lock("anthropic")  # another process, stuck on a slow answer
    assert held is not None
    asked: list[int] = []

    async def fetch() -> Usage:
        asked.append(1)
        return USAGE

    try:
        report = await book.report(provider("anthropic"), fetch)
    finally:
        os.close(held)
    assert asked == [] and report.usage == USAGE
    assert report.error is not None and "Another pi-tui process" in report.error
