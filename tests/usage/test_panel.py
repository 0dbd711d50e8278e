"""Usage on the status panel: fetched after the first frame, refreshed on u, a failure one line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from app.service import AuthService
from app.tui.widgets.account_details import AccountDetails
from tests.fakes.server import FakeProviders
from tests.tui.helpers import screen_text, wait_until
from tests.usage.helpers import seed, store_in


def details(app: Any) -> str:
    return "\n".join(
        f"{row.label} {row.value}".strip() for row in app.screen.query_one(AccountDetails).rows()
    )


async def test_first_frame_does_not_wait_for_a_slow_usage_answer(
    fake: FakeProviders, tmp_path: Path, make_app: Any
) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, "anthropic")
    fake.set_latency("anthropic.usage", 6.0)
    started = time.monotonic()
    app = make_app(service, usage=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "logged in" in screen_text(app), timeout=5.0)
        shown_after = time.monotonic() - started
        assert shown_after < 5.0
        assert "Usage" not in details(app)  # the answer is still on its way
        assert "61%" not in screen_text(app)
        await wait_until(pilot, lambda: "61%" in screen_text(app), timeout=15.0)
        assert time.monotonic() - started >= 6.0
        text = details(app)
        assert "Usage 5h ██████░░░░  61% · resets in 1h 12m" in text
        assert "Extra usage on · $12.34 of $50.00 used this month (25%)" in text
    assert fake.count("anthropic.usage") == 1


async def test_a_usage_failure_is_one_line_and_the_login_stays_shown(
    fake: FakeProviders, tmp_path: Path, make_app: Any
) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    entry = seed(fake, service.store, "anthropic")
    fake.fail("anthropic.usage", status=500)
    app = make_app(service, usage=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "Could not read usage" in details(app))
        rows = details(app).splitlines()
        assert rows[0] == "State ● logged in"
        failures = [row for row in rows if "usage" in row.lower()]
        assert failures == [
            "Usage Could not read usage: Anthropic had a server error (HTTP 500); try again in a moment."
        ]
        assert not app.screen.failed  # the message line is not taken over
    assert service.store.get("anthropic") == entry


async def test_u_asks_again_now(fake: FakeProviders, tmp_path: Path, make_app: Any) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    seed(fake, service.store, "anthropic")
    seed(fake, service.store, "github-copilot")
    app = make_app(service, usage=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: fake.count("github.usage") == 1 and "Used" in screen_text(app))
        await pilot.app.workers.wait_for_complete()
        assert fake.count("anthropic.usage") == 1
        fake.anthropic.usage_body = {"five_hour": {"utilization": 99.0, "resets_at": None}}
        await pilot.press("u")
        await wait_until(pilot, lambda: "99%" in screen_text(app))
        await pilot.app.workers.wait_for_complete()
    assert fake.count("anthropic.usage") == 2 and fake.count("github.usage") == 2


async def test_a_due_login_is_not_refreshed_for_usage(
    fake: FakeProviders, tmp_path: Path, make_app: Any
) -> None:
    service = AuthService(store_in(tmp_path), env=fake.env())
    tokens = fake.anthropic.seed_login()
    entry = {"type": "oauth", **tokens, "expires": int(time.time() * 1000) - 60_000}
    service.store.put("anthropic", entry)
    app = make_app(service, usage=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.app.workers.wait_for_complete()
    assert fake.count("anthropic.refresh") == 0 and fake.count("anthropic.usage") == 0
    assert service.store.get("anthropic") == entry
