"""A test call's rate-limit headers refresh the usage cache for free (PROVIDERS.md §11).

The fakes send the headers the real APIs send on every answer (Anthropic's
``anthropic-ratelimit-unified-*``, Codex's ``x-codex-*``), with numbers a little past their
usage answers (Anthropic 64 % / 23 % against 61 % / 22 %, Codex 15 % / 41 % against 12 % / 40 %),
so a test can tell which one is shown.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from app.providers import anthropic, openai_codex
from app.providers.base import Usage, UsageWindow
from app.service import AuthService
from app.usage import merged
from tests.fakes.server import FakeProviders
from tests.processes import run_cli
from tests.tui.helpers import screen_text, wait_until
from tests.usage.helpers import seed, store_in, usage_requests

# The windows each fake's test-call headers tell, and what the fake's full usage answer says.
FROM_HEADERS = {"anthropic": [("5h", 64.0), ("7d", 23.0)], "openai-codex": [("5h", 15.0), ("7d", 41.0)]}
FROM_USAGE = {"anthropic": [("5h", 61.0), ("7d", 22.0)], "openai-codex": [("5h", 12.0), ("7d", 40.0)]}
USAGE_NAME = {"anthropic": "anthropic.usage", "openai-codex": "codex.usage"}


def usage_json(fake: FakeProviders, tmp_path: Path, provider_id: str) -> dict[str, Any]:
    """``pi-tui usage PROVIDER --json`` as a real process: that provider's row."""
    result = run_cli("usage", provider_id, "--json", "--agent-dir", str(tmp_path / "agent"), env=fake.env())
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["providers"]
    return dict(row)


def windows(row: dict[str, Any]) -> list[tuple[str, float]]:
    return [(w["name"], w["used_percent"]) for w in row["windows"]]


@pytest.mark.parametrize("provider_id", ["anthropic", "openai-codex"])
async def test_after_a_test_call_usage_shows_its_headers_windows_without_asking(
    fake: FakeProviders, tmp_path: Path, provider_id: str
) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, provider_id)
    assert (await service.test(provider_id)).startswith("OK:")
    row = usage_json(fake, tmp_path, provider_id)
    assert fake.count(USAGE_NAME[provider_id]) == 0
    assert row["cached"] is True and row["error"] is None
    assert windows(row) == FROM_HEADERS[provider_id]
    assert all(abs(w["resets_at"] - time.time() * 1000) < 8 * 86_400_000 for w in row["windows"])
    assert abs(row["fetched_at"] - time.time() * 1000) < 60_000


@pytest.mark.parametrize("provider_id", ["anthropic", "openai-codex"])
async def test_a_test_call_keeps_what_only_the_last_full_answer_knew(
    fake: FakeProviders, tmp_path: Path, provider_id: str
) -> None:
    """The plan (Codex) and extra usage (Anthropic) stay; the windows are the headers'."""
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, provider_id)
    full = await service.usage(provider_id)
    assert [(w.name, w.used_percent) for w in full.usage.windows] == FROM_USAGE[provider_id]  # type: ignore[union-attr]
    await service.test(provider_id)
    row = usage_json(fake, tmp_path, provider_id)
    assert fake.count(USAGE_NAME[provider_id]) == 1  # the full answer's, none since
    assert windows(row) == FROM_HEADERS[provider_id]
    if provider_id == "anthropic":
        assert row["extra"] == {"Extra usage": "on · $12.34 of $50.00 used this month (25%)"}
    else:
        assert row["plan"] == "plus"


async def test_an_api_key_or_a_variables_token_writes_no_usage(
    fake: FakeProviders, tmp_path: Path, state_dir: Path
) -> None:
    """Usage is read for stored logins only: a test with another credential leaves the cache alone."""
    tokens = fake.anthropic.seed_login()
    env = fake.env() | {"ANTHROPIC_OAUTH_TOKEN": tokens["access"]}
    service = AuthService(store_in(tmp_path), env=env)
    assert (await service.test("anthropic")).startswith("OK:")
    assert not list((state_dir / "usage").glob("*.json"))


async def test_another_logins_answer_is_not_merged(fake: FakeProviders, tmp_path: Path) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, "anthropic")
    await service.usage("anthropic")
    seed(fake, service.store, "anthropic")  # a new login: the old answer is someone else's
    await service.test("anthropic")
    report = await service.usage("anthropic")
    assert report.cached and fake.count("anthropic.usage") == 1
    assert report.usage is not None and report.usage.extra is None
    assert [(w.name, w.used_percent) for w in report.usage.windows] == FROM_HEADERS["anthropic"]


async def test_u_after_t_asks_for_the_full_answer_again(fake: FakeProviders, tmp_path: Path) -> None:
    """The headers renew the cache; ``--refresh`` (the panel's u) still asks."""
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, "anthropic")
    await service.test("anthropic")
    report = await service.usage("anthropic", refresh=True)
    assert not report.cached and fake.count("anthropic.usage") == 1
    assert [(w.name, w.used_percent) for w in report.usage.windows] == FROM_USAGE["anthropic"]  # type: ignore[union-attr]


async def test_t_on_the_panel_shows_the_headers_windows(
    fake: FakeProviders, tmp_path: Path, make_app: Any
) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, "anthropic")
    app = make_app(service, usage=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "61%" in screen_text(app), timeout=15.0)
        await pilot.press("t")
        await wait_until(pilot, lambda: "64%" in screen_text(app), timeout=15.0)
    assert usage_requests(fake)["anthropic"] == 1


# -- reading the headers ------------------------------------------------------------------


def anthropic_headers(**values: str) -> dict[str, str]:
    return {f"anthropic-ratelimit-unified-{key.replace('_', '-')}": value for key, value in values.items()}


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("0.64", 64.0), ("0", 0.0), ("1", 100.0), ("1.0", 100.0), ("64", 64.0), ("100", 100.0), ("250", 100.0)],
)
def test_anthropic_utilization_up_to_1_is_a_fraction_above_it_a_percentage(sent: str, shown: float) -> None:
    usage = anthropic.usage_from_headers(anthropic_headers(**{"5h_utilization": sent}))
    assert usage == Usage(windows=(UsageWindow("5h", shown, None),))


def test_anthropic_resets_are_epoch_seconds_and_rejected_is_limit_reached() -> None:
    headers = anthropic_headers(
        status="rejected", **{"5h_utilization": "1.0", "5h_reset": "1790000000", "7d_reset": "1790500000"}
    )
    usage = anthropic.usage_from_headers(headers)
    assert usage == Usage(
        windows=(UsageWindow("5h", 100.0, 1_790_000_000_000), UsageWindow("7d", None, 1_790_500_000_000)),
        notes=("limit reached",),
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "application/json"},
        anthropic_headers(status="allowed", **{"5h_utilization": "lots", "5h_reset": "soon"}),
        anthropic_headers(**{"5h_utilization": "nan", "7d_reset": "99"}),
    ],
)
def test_anthropic_headers_that_tell_nothing_are_none(headers: dict[str, str]) -> None:
    assert anthropic.usage_from_headers(headers) is None


def test_codex_headers_name_their_windows_by_minutes() -> None:
    usage = openai_codex.usage_from_headers(
        {
            "x-codex-primary-used-percent": "100",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": "1790000000",
            "x-codex-secondary-used-percent": "41.5",
            "x-codex-secondary-window-minutes": "garbage",
        }
    )
    assert usage == Usage(
        windows=(UsageWindow("5h", 100.0, 1_790_000_000_000), UsageWindow("secondary", 41.5, None)),
        notes=("limit reached",),
    )
    assert openai_codex.usage_from_headers({"x-codex-primary-window-minutes": "300"}) is None


def test_merged_replaces_windows_by_name_and_keeps_plan_credits_extra() -> None:
    last = Usage(
        windows=(UsageWindow("5h", 61.0, 1), UsageWindow("7d", 22.0, 2), UsageWindow("7d Opus", 5.0, 3)),
        plan="max",
        credits={"balance": 3.0},
        extra={"Extra usage": "on"},
        notes=("limit reached",),
    )
    live = Usage(windows=(UsageWindow("7d", 23.0, 20), UsageWindow("1h", 1.0, 10)))
    assert merged(last, live) == Usage(
        windows=(
            UsageWindow("5h", 61.0, 1),
            UsageWindow("7d", 23.0, 20),
            UsageWindow("7d Opus", 5.0, 3),
            UsageWindow("1h", 1.0, 10),
        ),
        plan="max",
        credits={"balance": 3.0},
        extra={"Extra usage": "on"},
    )
    assert merged(None, live) == live
