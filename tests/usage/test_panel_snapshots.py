"""The status panel with usage for several providers, at 80×24 and 40×12.

Fixed clock; the usage answers are in the cache (fresh), so the panel asks no one (every URL
points at a closed port). Tokens are recognisable fakes.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.providers.base import Usage, UsageWindow
from app.service import AuthService
from app.usage import Record, UsageCache, login_key
from tests.fakes.providers import REGISTRY
from tests.tui.helpers import FAKE_ANTHROPIC, FAKE_COPILOT, HOUR_MS, seed

SIZES = {"normal": (80, 24), "small": (40, 12)}
MINUTE_MS = 60_000
DAY_MS = 24 * HOUR_MS


def usage_panel(fixed_store: Any, clock: Any) -> AuthService:
    """Anthropic, Copilot, Codex (whose last check failed) and Kimi logged in, their usage cached."""
    now = clock.ms()
    seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=now + 7 * HOUR_MS, email="ada@example.com")
    seed(fixed_store, "github-copilot", FAKE_COPILOT, expires=now + 25 * MINUTE_MS, login="octocat")
    codex = {"access": "eyJhbGciOiJSUzI1NiJ9.FAKE.FAKEQ9xw", "refresh": "rt_FAKEFAKEFAKEFAKE1234"}
    seed(fixed_store, "openai-codex", codex, expires=now + 9 * DAY_MS)
    kimi = {"access": "kimi-FAKEFAKEFAKEFAKE00ff", "refresh": "kimi-FAKEFAKEFAKEFAKE11aa"}
    seed(fixed_store, "kimi-coding", kimi, expires=now + 2 * HOUR_MS)
    # Every provider URL at a closed loopback port: a cache miss fails here, never asks the internet.
    offline = {name: value for config in REGISTRY for name, value in config.env("http://127.0.0.1:9").items()}
    service = AuthService(fixed_store, env=offline, clock=clock)
    cache = UsageCache(service.state.path.parent / "usage", fixed_store.path)

    def whose(provider_id: str) -> str:
        entry = fixed_store.get(provider_id)
        assert entry is not None
        return login_key(None, entry)

    fresh = now + 10 * MINUTE_MS
    claude = Usage(
        (
            UsageWindow("5h", 61.0, now + HOUR_MS + 12 * MINUTE_MS),
            UsageWindow("7d", 22.0, now + 3 * DAY_MS + 4 * HOUR_MS),
            UsageWindow("7d Opus", 8.0, now + 3 * DAY_MS + 4 * HOUR_MS),
        ),
        extra={"Extra usage": "on · $12.34 of $50.00 used this month (25%)"},
    )
    cache.write("anthropic", Record(claude, now - 2 * MINUTE_MS, fresh_until=fresh, login=whose("anthropic")))
    copilot = Usage(
        (UsageWindow("premium", 20.0, now + 12 * DAY_MS),), plan="individual_pro", notes=("unlimited: chat",)
    )
    cache.write(
        "github-copilot",
        Record(copilot, now - 2 * MINUTE_MS, fresh_until=fresh, login=whose("github-copilot")),
    )
    codex_usage = Usage(
        (UsageWindow("5h", 88.0, now + 40 * MINUTE_MS), UsageWindow("7d", 45.0, None)), plan="plus"
    )
    error = "OpenAI had a server error (HTTP 500); try again in a moment."
    cache.write(
        "openai-codex",
        Record(
            codex_usage,
            now - 2 * HOUR_MS,
            error,
            now - MINUTE_MS,
            fresh_until=fresh,
            login=whose("openai-codex"),
        ),
    )
    kimi_usage = Usage(
        (UsageWindow("5h", 30.0, now + 2 * HOUR_MS), UsageWindow("week", 55.0, now + 4 * DAY_MS))
    )
    cache.write(
        "kimi-coding", Record(kimi_usage, now - MINUTE_MS, fresh_until=fresh, login=whose("kimi-coding"))
    )
    return service


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_panel_with_usage(snap_compare, make_app, fixed_store, clock, size):
    app = make_app(usage_panel(fixed_store, clock), usage=True)
    assert snap_compare(app, run_before=settle, terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_panel_with_a_failed_usage_check_selected(snap_compare, make_app, fixed_store, clock, size):
    app = make_app(usage_panel(fixed_store, clock), usage=True)

    async def select_codex(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(app, run_before=select_codex, terminal_size=SIZES[size])
