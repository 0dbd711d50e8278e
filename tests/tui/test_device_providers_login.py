"""xAI and Kimi Code logins in the app: the complete link is shown and opened, the code is one
word on screen and on the clipboard, and the login is saved."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from app.service import AuthService
from tests.tui.helpers import flat, read_doc, screen_text, wait_for_screen, wait_for_text, wait_until


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    # Polls every 5 s × 0.01; the fakes accept polls that close together.
    fake.xai.min_poll_gap = 0.0
    fake.kimi.min_poll_gap = 0.0
    return AuthService(store, env=fake.env(), clock=clock, poll_scale=0.01)


@pytest.mark.parametrize(
    ("provider", "fake_name", "page", "name"),
    [
        ("xai", "xai", "https://accounts.x.ai/device", "xAI (Grok/X subscription)"),
        ("kimi-coding", "kimi", "https://www.kimi.com/code/authorize_device", "Kimi Code (subscription)"),
    ],
)
async def test_device_login_shows_and_opens_the_complete_link(
    service, store, fake, make_app, clipboard, opener, provider, fake_name, page, name
):
    provider_fake = getattr(fake, fake_name)
    app = make_app(service, start="login", provider=provider)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "DeviceCodeScreen")
        await wait_until(pilot, lambda: provider_fake.latest_user_code is not None)
        user_code = provider_fake.latest_user_code
        complete = f"{page}?user_code={user_code}"
        await wait_for_text(pilot, "Waiting for you to approve")
        assert f"Open {complete} and confirm this code:" in flat(app)
        assert opener.opened == [complete]
        assert clipboard.copied == [user_code]
        # One word: selecting it in the terminal copies exactly the code.
        assert str(app.screen.query_one("#user-code", Static).content) == user_code
        assert user_code in screen_text(app)
        provider_fake.approve()
        await wait_for_screen(pilot, "LoginDoneScreen")
        assert f"Logged in to {name}. Credentials saved to {store.path}" in flat(app)
        entry = read_doc(store)[provider]
        assert set(entry) == {"type", "access", "refresh", "expires"}
        assert entry["access"] not in screen_text(app)
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        # Back on the panel, the login just made is the one selected, its details shown.
        assert app.screen.accounts.selected == provider
        assert app.screen.query_one("#details").border_title == name
