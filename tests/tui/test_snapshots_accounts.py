"""The status panel with two accounts for each of two providers, at 80×24 and 40×12: the
provider's line (the account pi uses), the stored account's line under it, and either one's
details.

Fixed clock, the store at a fixed path (it is shown); usage answers are in the cache (fresh), so
the panel asks no one (every URL points at a closed port). Tokens are recognisable fakes.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.providers.base import Usage, UsageWindow
from app.service import AuthService
from app.usage import Record, UsageCache, login_key
from tests.fakes.providers import REGISTRY
from tests.tui.helpers import FAKE_ANTHROPIC, FAKE_COPILOT, HOUR_MS

SIZES = {"normal": (80, 24), "small": (40, 12)}
MINUTE_MS = 60_000
DAY_MS = 24 * HOUR_MS

ADA = {
    "access": "sk-ant-oat01-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEada1",
    "refresh": "sk-ant-ort01-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEada2",
}
HUBOT = {
    "access": "tid=FAKEFAKEFAKE;exp=1795782600;sku=copilot_business;h0b7",
    "refresh": "ghu_FAKEFAKEFAKEhubot",
}


def entry(tokens: dict[str, str], expires: int) -> dict[str, Any]:
    return {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": expires}


def two_by_two(fixed_store: Any, clock: Any) -> AuthService:
    """Anthropic: bob@example.com in use (its usage cached), ada@example.com ("work") stored.
    Copilot: @octocat in use (expired: its usage is not asked for), @hubot stored, whose usage the
    cache still holds from when it was in use (the cache keeps one answer per provider)."""
    now = clock.ms()
    offline = {name: value for config in REGISTRY for name, value in config.env("http://127.0.0.1:9").items()}
    service = AuthService(fixed_store, env=offline, clock=clock)
    accounts = service.accounts()
    ada, bob = entry(ADA, now + 5 * HOUR_MS), entry(FAKE_ANTHROPIC, now + 7 * HOUR_MS)
    accounts.add_account("anthropic", ada, "ada@example.com", "work")
    accounts.add_account("anthropic", bob, "bob@example.com")
    hubot, octocat = entry(HUBOT, now + 20 * MINUTE_MS), entry(FAKE_COPILOT, now - MINUTE_MS)
    accounts.add_account("github-copilot", hubot, "@hubot")
    accounts.add_account("github-copilot", octocat, "@octocat")

    cache = UsageCache(service.state.path.parent / "usage", fixed_store.path)
    fresh = now + 10 * MINUTE_MS
    claude = Usage(
        (UsageWindow("5h", 61.0, now + HOUR_MS + 12 * MINUTE_MS), UsageWindow("7d", 22.0, now + 3 * DAY_MS))
    )
    cache.write(
        "anthropic",
        Record(claude, now - 2 * MINUTE_MS, fresh_until=fresh, login=login_key("bob@example.com", bob)),
    )
    copilot = Usage((UsageWindow("premium", 35.0, now + 12 * DAY_MS),), plan="business")
    cache.write(
        "github-copilot",
        Record(copilot, now - 40 * MINUTE_MS, fresh_until=fresh, login=login_key("@hubot", hubot)),
    )
    return service


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_two_accounts_for_two_providers(snap_compare, make_app, fixed_store, clock, size):
    app = make_app(two_by_two(fixed_store, clock), usage=True)
    assert snap_compare(app, run_before=settle, terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_a_stored_account_selected(snap_compare, make_app, fixed_store, clock, size):
    app = make_app(two_by_two(fixed_store, clock), usage=True)

    async def select_ada(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(app, run_before=select_ada, terminal_size=SIZES[size])


def test_a_stored_account_with_cached_usage_selected(snap_compare, make_app, fixed_store, clock):
    app = make_app(two_by_two(fixed_store, clock), usage=True)

    async def select_hubot(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await pilot.pause()

    assert snap_compare(app, run_before=select_hubot, terminal_size=SIZES["normal"])
