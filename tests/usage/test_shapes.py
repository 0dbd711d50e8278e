"""The usage answers' other real shapes (free tiers, missing fields, numbers as strings or not)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app.service import AuthService
from tests.fakes.server import FakeProviders
from tests.usage.helpers import seed, store_in

HOUR = 3600


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


async def usage_of(fake: FakeProviders, tmp_path: Path, provider_id: str) -> Any:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, provider_id)
    report = await service.usage(provider_id)
    assert report.error is None, report.error
    return report


def windows(report: Any) -> list[tuple[str, float | None, bool]]:
    return [(w.name, w.used_percent, w.resets_at is not None) for w in report.usage.windows]


async def test_copilot_free_tier(fake: FakeProviders, tmp_path: Path) -> None:
    fake.github.usage_body = {
        "access_type_sku": "free_limited_copilot",
        "copilot_plan": "individual",
        "limited_user_quotas": {"chat": 410, "completions": 3000},
        "monthly_quotas": {"chat": 500, "completions": 4000},
        "limited_user_reset_date": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 20 * 86400)),
    }
    report = await usage_of(fake, tmp_path, "github-copilot")
    assert windows(report) == [("chat", 18.0, True), ("completions", 25.0, True)]
    assert report.usage.plan == "individual"


async def test_copilot_quota_without_percent_uses_entitlement_and_remaining(
    fake: FakeProviders, tmp_path: Path
) -> None:
    fake.github.usage_body = {
        "quota_snapshots": {"premium_interactions": {"entitlement": 50, "remaining": 5, "unlimited": False}}
    }
    report = await usage_of(fake, tmp_path, "github-copilot")
    assert windows(report) == [("premium", 90.0, False)]


async def test_anthropic_extra_usage_off_and_sonnet_window(fake: FakeProviders, tmp_path: Path) -> None:
    fake.anthropic.usage_body = {
        "five_hour": {"utilization": 100, "resets_at": iso(HOUR)},
        "seven_day": None,
        "seven_day_sonnet": {"utilization": "12.5", "resets_at": iso(5 * 86400)},
        "extra_usage": {
            "is_enabled": False,
            "monthly_limit": None,
            "used_credits": None,
            "utilization": None,
        },
    }
    report = await usage_of(fake, tmp_path, "anthropic")
    assert windows(report) == [("5h", 100.0, True), ("7d Sonnet", 12.5, True)]
    assert report.usage.extra == {"Extra usage": "off"}
    assert report.tightest().name == "5h"


async def test_codex_reset_after_seconds_and_limit_reached(fake: FakeProviders, tmp_path: Path) -> None:
    fake.codex.usage_body = {
        "plan_type": "pro",
        "rate_limit": {
            "limit_reached": True,
            "primary_window": {
                "used_percent": 100,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 600,
            },
            "secondary_window": None,
        },
        "credits": {"has_credits": True, "unlimited": False, "balance": "12.5"},
    }
    report = await usage_of(fake, tmp_path, "openai-codex")
    assert windows(report) == [("5h", 100.0, True)]
    assert report.usage.notes == ("limit reached",) and report.usage.credits == {"balance": 12.5}
    assert 500_000 < report.usage.windows[0].resets_at - time.time() * 1000 <= 600_000


async def test_kimi_numbers_as_numbers_and_hours(fake: FakeProviders, tmp_path: Path) -> None:
    fake.kimi.usage_body = {
        "usage": {"limit": 200, "remaining": 150, "resetTime": iso(86400)},
        "limits": [
            {
                "window": {"duration": 5, "timeUnit": "TIME_UNIT_HOUR"},
                "detail": {"limit": "10", "used": "10"},
            },
            "junk",
        ],
    }
    report = await usage_of(fake, tmp_path, "kimi-coding")
    assert windows(report) == [("5h", 100.0, False), ("week", 25.0, True)]
    assert report.usage.plan is None


async def test_openrouter_key_limit_and_forbidden_credits(fake: FakeProviders, tmp_path: Path) -> None:
    fake.openrouter.key_data = {"limit": 10, "usage": 2.5, "limit_remaining": 7.5}
    fake.openrouter.credits_forbidden = True
    report = await usage_of(fake, tmp_path, "openrouter")
    assert windows(report) == [("key limit", 25.0, False)]
    assert report.usage.extra is None and report.usage.credits["key_limit_remaining"] == 7.5


@pytest.mark.parametrize(
    "body",
    [
        {"five_hour": {"utilization": float("nan")}},
        {"five_hour": {"utilization": -5, "resets_at": "yesterday"}},
        {"five_hour": {"utilization": 1e308, "resets_at": "9999-99-99"}},
        {"five_hour": {"utilization": True, "resets_at": 12}},
    ],
    ids=["nan", "negative", "huge", "wrong-types"],
)
async def test_anthropic_numbers_out_of_range_are_clamped_or_dropped(
    fake: FakeProviders, tmp_path: Path, body: dict[str, Any]
) -> None:
    fake.anthropic.usage_body = body
    report = await usage_of(fake, tmp_path, "anthropic")
    for window in report.usage.windows:
        assert window.used_percent is None or 0 <= window.used_percent <= 100
