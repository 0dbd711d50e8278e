"""The GitHub Copilot login in the app: Enterprise prompt, device code, polling, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from app.errors import DeviceFlowError
from app.service import AuthService
from tests.tui.helpers import (
    PollEvent,
    card,
    flat,
    read_doc,
    screen_text,
    scripted_copilot,
    wait_for_screen,
    wait_for_text,
    wait_until,
)


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    # Polls every 5 s × 0.01; the fake accepts polls that close together.
    fake.github.min_poll_gap = 0.0
    fake.github.slow_down_gap_scale = 0.0
    return AuthService(store, env=fake.env(), clock=clock, poll_scale=0.01)


async def open_device_code(pilot: Any, domain: str = "") -> None:
    """From the status screen: l, choose Copilot, answer the Enterprise prompt."""
    await pilot.press("l")
    await wait_for_screen(pilot, "ProviderSelectScreen")
    await pilot.press("down", "enter")
    await wait_for_screen(pilot, "QuestionScreen")
    assert "GitHub Enterprise URL/domain (blank for github.com):" in flat(pilot.app)
    if domain:
        await pilot.press(*domain)
    await pilot.press("enter")
    await wait_for_screen(pilot, "DeviceCodeScreen")


async def test_device_login_shows_the_code_polls_and_saves(service, store, fake, make_app, clipboard, opener):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_device_code(pilot)
        await wait_until(pilot, lambda: fake.github.latest_user_code is not None)
        user_code = fake.github.latest_user_code
        await wait_for_text(pilot, "Waiting for you to approve… (checked")
        assert user_code in flat(app)
        # One word on screen: selecting it copies the code, not "W D J B - …".
        assert str(app.screen.query_one("#user-code", Static).content) == user_code
        assert user_code in screen_text(app)
        assert "Open https://github.com/login/device and enter this code:" in flat(app)
        assert "The code expires in 15m 00s." in flat(app)
        assert clipboard.copied == [user_code]
        assert opener.opened == ["https://github.com/login/device"]
        fake.github.approve(login="hubot")
        await wait_for_screen(pilot, "LoginDoneScreen")
        assert f"Logged in to GitHub Copilot as @hubot. Credentials saved to {store.path}" in flat(app)
        assert flat(app).count("@hubot") == 1  # the sentence names the account, once
        assert "Copilot models enabled: 4 of 4." in flat(app)
        entry = read_doc(store)["github-copilot"]
        assert fake.github.login_for(entry["refresh"]) == "hubot"
        assert fake.copilot.is_token_valid(entry["access"])
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        shown = card(app, "github-copilot")
        assert "State ● logged in" in shown
        assert entry["access"] not in shown and entry["refresh"] not in shown


async def test_slow_down_is_reported_with_the_new_interval(service, fake, make_app):
    fake.github.force_slow_down(1)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_device_code(pilot)
        await wait_for_text(pilot, "GitHub asked us to slow down; checking every 10 s.")
        await wait_for_text(pilot, "checked 3 times) GitHub asked us to slow down; checking every 10 s.")


async def test_denied_on_github_says_so_and_n_starts_again(service, fake, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_device_code(pilot)
        await wait_until(pilot, lambda: fake.github.latest_user_code is not None)
        first = fake.github.latest_user_code
        fake.github.deny()
        await wait_for_text(pilot, "The login was denied on GitHub")
        assert "Press n for a new code, or Esc to go back." in flat(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: fake.github.latest_user_code != first)
        await wait_for_text(pilot, fake.github.latest_user_code)
        assert "denied" not in flat(app)


async def test_code_expiry_by_the_clock_ends_the_polling(service, fake, make_app, clock):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_device_code(pilot)
        await wait_for_text(pilot, "Waiting for you to approve")
        clock.advance(16 * 60)
        await wait_for_text(pilot, "The code expired before it was approved; start again.")


async def test_escape_cancels_at_once_and_stops_polling(service, store, fake, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_device_code(pilot)
        await wait_for_text(pilot, "Waiting for you to approve")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        polls = fake.count("github.poll")
        await pilot.pause(0.2)
        assert fake.count("github.poll") == polls
        assert not store.path.exists()


async def test_enterprise_host_is_checked_before_anything_is_sent(service, fake, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("down", "enter")
        await wait_for_screen(pilot, "QuestionScreen")
        await pilot.press(*"ftp://ghe.example.com", "enter")
        await wait_for_text(pilot, "Only an https:// address (or a bare host) works for GitHub Enterprise")
        assert type(app.screen).__name__ == "QuestionScreen"
        assert fake.count("github.device_code") == 0


async def test_enterprise_host_reaches_the_login(service, make_app):
    made = scripted_copilot(service, [])
    app = make_app(service, start="login", provider="github-copilot")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "QuestionScreen")
        await pilot.press(*"https://ghe.example.com/some/path", "enter")
        await wait_for_screen(pilot, "DeviceCodeScreen")
        await wait_until(pilot, lambda: made)
        assert made[0].domain == "ghe.example.com"
        assert "Log in to GitHub Copilot (ghe.example.com)" in flat(app)


async def test_scripted_poll_events_drive_the_progress_line(service, make_app):
    made = scripted_copilot(
        service,
        [PollEvent("waiting", polls=1), PollEvent("waiting", polls=2), PollEvent("slow_down", 10, polls=3)],
    )
    app = make_app(service, start="login", provider="github-copilot")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for_text(pilot, "GitHub asked us to slow down; checking every 10 s.")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        assert made[0].closed


async def test_a_flow_error_from_the_service_is_a_sentence(service, make_app):
    scripted_copilot(service, [DeviceFlowError("GitHub stopped the login (weird). Start again.")])
    app = make_app(service, start="login", provider="github-copilot")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for_text(pilot, "GitHub stopped the login (weird). Start again. Press n for a new code")


@pytest.mark.parametrize(
    ("event", "shown"),
    [
        (PollEvent("waiting", 5, polls=0), "Waiting for you to approve…"),
        (PollEvent("waiting", 5, polls=1), "Waiting for you to approve… (checked once)"),
        (PollEvent("slow_down", 10, polls=2), "GitHub asked us to slow down; checking every 10 s."),
        (
            PollEvent("waiting", 10, polls=3),
            "Waiting for you to approve… (checked 3 times) "
            "GitHub asked us to slow down; checking every 10 s.",
        ),
    ],
)
def test_progress_line_says_what_polling_is_doing(event, shown):
    from app.tui.screens.device_code import progress

    assert progress(event, 5, "GitHub") == shown


async def test_quitting_while_polling_closes_the_login(service, make_app):
    made = scripted_copilot(service, [PollEvent("waiting", polls=1)])
    app = make_app(service, start="login", provider="github-copilot")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for_text(pilot, "checked once")
        await pilot.press("ctrl+q")
    assert made[0].closed
