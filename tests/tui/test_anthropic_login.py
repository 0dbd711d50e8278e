"""The Anthropic login in the app, over real HTTP to the fake provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from textual import events

from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.tui.helpers import (
    card,
    choose_method,
    flat,
    read_doc,
    screen_text,
    wait_for_screen,
    wait_for_text,
    wait_until,
)


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    return AuthService(store, env=fake.env(), clock=clock)


async def login_ready(pilot: Any) -> Any:
    """Wait until the Anthropic login screen has its link; returns the login."""
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "login", None) is not None)
    return pilot.app.screen.login


@asynccontextmanager
async def on_login_screen(make_app: Any, service: AuthService) -> AsyncIterator[tuple[Any, Any]]:
    """The app started at the Anthropic login (80×24), once the screen has its link: (app, pilot)."""
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_method(pilot, "browser")
        await login_ready(pilot)
        yield app, pilot


async def expect_saved(pilot: Any, store: Any) -> None:
    """The login ends on the success screen with Anthropic's entry in the file."""
    await wait_for_screen(pilot, "LoginDoneScreen")
    assert "anthropic" in read_doc(store)


async def open_login(pilot: Any) -> Any:
    """From the status screen: l, Enter on Anthropic, wait for the link."""
    await pilot.press("l")
    await wait_for_screen(pilot, "ProviderSelectScreen")
    await pilot.press("enter")
    await choose_method(pilot, "browser")
    await wait_for_screen(pilot, "AuthCodeScreen")
    return await login_ready(pilot)


async def test_login_by_paste_saves_tokens_and_shows_success(
    service, store, fake, make_app, clipboard, opener
):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        login = await open_login(pilot)
        assert clipboard.copied == [login.url]
        assert opener.opened == [login.url]
        assert "Link copied to the clipboard." in flat(app)
        assert "Waiting for the browser… or paste the code below." in flat(app)
        code, state = fake.anthropic.authorize(login.url)
        app.post_message(events.Paste(f"{code}#{state}"))
        await wait_for_screen(pilot, "LoginDoneScreen")
        saved = f"Credentials saved to {store.path}"
        assert f"Logged in to Anthropic (Claude Pro/Max) as user@example.com. {saved}" in flat(app)
        entry = read_doc(store)["anthropic"]
        assert entry["type"] == "oauth" and "email" not in entry  # as pi writes it
        assert service.status("anthropic").account == "user@example.com"  # pi-tui's state file
        assert fake.anthropic.is_access_valid(entry["access"])
        assert entry["access"] not in screen_text(app)
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        shown = card(app, "anthropic")
        assert "State ● logged in" in shown
        assert "Account user@example.com" in shown
        assert "Expiry expires in 7h 55m" in shown
        assert f"Token sk-ant-oat01-…{entry['access'][-4:]}" in shown
        assert "user@example.com" in screen_text(app)
        assert entry["access"] not in screen_text(app)


async def test_paste_event_to_the_focused_input_like_a_real_terminal(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        code, state = fake.anthropic.authorize(app.screen.login.url)
        assert app.focused is not None and app.focused.id == "code"
        app.focused.post_message(events.Paste(f"{code}#{state}"))
        await expect_saved(pilot, store)


async def test_multiline_paste_wrapped_in_bracketed_paste_markers_is_used_whole(
    service, store, fake, make_app
):
    async with on_login_screen(make_app, service) as (app, pilot):
        code, state = fake.anthropic.authorize(app.screen.login.url)
        # A terminal that wraps the code over lines and leaks the paste markers.
        app.post_message(events.Paste(f"\x1b[200~{code[:10]}\n{code[10:]}\n#{state}\n\x1b[201~"))
        await expect_saved(pilot, store)


async def test_typed_code_is_submitted_with_enter(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        code, state = fake.anthropic.authorize(app.screen.login.url)
        app.screen.query_one("#code").value = f"{code}#{state}"
        await pilot.press("enter")
        await expect_saved(pilot, store)


async def test_login_by_loopback_callback_needs_no_paste(service, store, fake, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        login = await open_login(pilot)
        assert login.listening
        async with httpx.AsyncClient(verify=client_tls(), follow_redirects=True) as browser:
            page = await browser.get(login.url)
        assert page.status_code == 200 and "You can close this tab" in page.text
        await wait_for_screen(pilot, "LoginDoneScreen")
        assert service.status("anthropic").account == "user@example.com"


async def test_invalid_paste_says_why_then_a_good_paste_succeeds(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        app.post_message(events.Paste("this is not a code!"))
        await wait_for_text(pilot, "doesn't look like an authorization code")
        code_input = app.screen.query_one("#code")
        assert not code_input.disabled and app.focused is code_input
        # What was rejected stays in view, selected: the next paste or keystroke replaces it.
        assert code_input.value == "thisisnotacode!"
        assert (code_input.selection.start, code_input.selection.end) == (0, len(code_input.value))
        assert not store.path.exists()
        code, state = fake.anthropic.authorize(app.screen.login.url)
        app.post_message(events.Paste(f"{code}#{state}"))
        await expect_saved(pilot, store)


async def test_code_from_another_login_attempt_is_rejected(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        code, _state = fake.anthropic.authorize(app.screen.login.url)
        app.post_message(events.Paste(f"{code}#some-other-state"))
        await wait_for_text(pilot, "belongs to a different login attempt")
        assert fake.count("anthropic.exchange") == 0


async def test_pasted_error_redirect_is_explained(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        app.post_message(
            events.Paste(
                "http://localhost:53692/callback?error=access_denied&error_description=The+user+said+no"
            )
        )
        await wait_for_text(pilot, "Anthropic did not authorize the login (access_denied: The user said no)")
        assert not store.path.exists()


async def test_denied_in_the_browser_shows_why_and_makes_a_new_link(
    service, store, fake, make_app, clipboard
):
    async with on_login_screen(make_app, service) as (app, pilot):
        first = app.screen.login
        fake.anthropic.deny_next_authorize()
        async with httpx.AsyncClient(verify=client_tls(), follow_redirects=True) as browser:
            await browser.get(first.url)
        await wait_for_text(pilot, "Anthropic did not authorize the login (The user denied access)")
        await wait_until(pilot, lambda: app.screen.login is not None and app.screen.login is not first)
        second = app.screen.login
        assert clipboard.copied == [first.url, second.url]
        async with httpx.AsyncClient(verify=client_tls(), follow_redirects=True) as browser:
            await browser.get(second.url)
        await wait_for_screen(pilot, "LoginDoneScreen")


async def test_code_the_server_rejects_can_be_replaced(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        login = app.screen.login
        app.post_message(events.Paste(f"not-issued-by-the-server#{login.pkce.state}"))
        await wait_for_text(
            pilot, "Anthropic did not accept that code (Invalid or already used authorization code)."
        )
        assert fake.count("anthropic.exchange") == 1
        code, state = fake.anthropic.authorize(login.url)
        app.post_message(events.Paste(f"{code}#{state}"))
        await wait_for_screen(pilot, "LoginDoneScreen")


async def test_escape_cancels_and_closes_the_listener(service, store, fake, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        login = app.screen.login
        port = login.listener.port
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        await wait_until(pilot, lambda: not login.listener._servers)
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(verify=client_tls()) as browser:
                await browser.get(f"http://127.0.0.1:{port}/callback")
        assert not store.path.exists()


async def test_without_a_system_clipboard_the_link_goes_by_osc52(service, make_app, clipboard, opener):
    clipboard.available = False
    opener.opens = False
    async with on_login_screen(make_app, service) as (app, pilot):
        await wait_for_text(
            pilot, "Link sent to your terminal's clipboard (OSC 52), if your terminal accepts that."
        )
        assert app.clipboard == app.screen.login.url
        assert "Not opening a browser over SSH" in flat(app)


async def test_whole_link_is_on_screen(service, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        await pilot.pause()
        shown = "".join(line.strip(" │") for line in screen_text(app).splitlines())
        assert app.screen.login.url in shown


async def test_quitting_during_a_login_closes_the_listener(service, make_app):
    async with on_login_screen(make_app, service) as (app, pilot):
        port = app.screen.login.listener.port
        await pilot.press("ctrl+q")
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(verify=client_tls()) as browser:
            await browser.get(f"http://127.0.0.1:{port}/callback")


async def test_a_token_pasted_by_mistake_is_masked_in_the_field(service, store, make_app):
    token = "sk-ant-oat01-" + "Q" * 80 + "Zz99"
    async with on_login_screen(make_app, service) as (app, pilot):
        app.post_message(events.Paste(token))
        await wait_for_text(pilot, "Anthropic did not accept that code")
        assert app.screen.query_one("#code").value == "sk-ant-oat01-…Zz99"
        assert "QQQQQQQQ" not in screen_text(app)


async def test_clicked_link_goes_through_the_opener(service, make_app, opener):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://example.com/x")
        await wait_until(pilot, lambda: "https://example.com/x" in opener.opened)


async def test_method_choice_preselects_copy_code_over_ssh_and_ctrl_o_switches(
    store, fake, clock, make_app, clipboard
):
    service = AuthService(
        store, env={**fake.env(), "SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22"}, clock=clock
    )
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "MethodChoiceScreen")
        options = app.screen.query_one("#methods")
        assert options.get_option_at_index(options.highlighted).id == "copy_code"
        assert "Copy code (another machine, SSH)  (default)" in screen_text(app)
        await pilot.press("enter")
        copy_login = await login_ready(pilot)
        assert copy_login.redirect_uri == "https://platform.claude.com/oauth/code/callback"
        assert "Anthropic's page then shows a code" in flat(app)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: getattr(app.screen, "login", None) not in (None, copy_login))
        browser_login = app.screen.login
        assert browser_login.listening and browser_login.redirect_uri.startswith("http://localhost:")
        assert clipboard.copied == [copy_login.url, browser_login.url]
        code, state = fake.anthropic.authorize(browser_login.url)
        app.post_message(events.Paste(f"{code}#{state}"))
        await expect_saved(pilot, store)


async def test_escape_on_the_method_choice_goes_back_without_a_request(service, fake, make_app):
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        assert fake.requests == []
