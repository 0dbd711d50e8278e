"""The login link on the login screens: what is said, copied and opened, and when (issue 11)."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.tui.helpers import (
    choose_method,
    flat,
    key_bar,
    screen_text,
    wait_for_screen,
    wait_for_text,
    wait_until,
)


@pytest.fixture
def unsafe_store(tmp_path: Any) -> CredentialStore:
    path = tmp_path / "agent" / "oauth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text("{}\n")
    os.chmod(path, 0o644)
    return CredentialStore(path)


async def test_an_unsafe_store_is_said_before_any_link_is_opened_or_copied(
    unsafe_store, make_app, clock, fake, opener, clipboard
):
    service = AuthService(unsafe_store, env=fake.env(), clock=clock)
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_method(pilot, "browser")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await wait_for_text(pilot, "No link: the login could not start.")
        assert "readable by other users (mode 0644)" in flat(app)
    assert opener.opened == [] and clipboard.copied == []
    assert fake.count("anthropic.authorize") == 0


# -- defect 3: getting the link over SSH and in tmux ----------------------------------------------


@pytest.fixture
def fake_service(store, fake, clock) -> AuthService:
    return AuthService(store, env=fake.env(), clock=clock)


async def on_auth_code_screen(pilot: Any) -> Any:
    await choose_method(pilot, "browser")
    await wait_for_screen(pilot, "AuthCodeScreen")
    await wait_until(pilot, lambda: pilot.app.screen.login is not None)
    await wait_until(pilot, lambda: "Link" in str(pilot.app.screen.query_one("#link-status").content))
    return pilot.app.screen.login


def link_status(app: Any) -> str:
    return str(app.screen.query_one("#link-status").content)


async def test_ctrl_y_copies_the_link_again_and_ctrl_b_opens_it_again(
    fake_service, make_app, clipboard, opener
):
    app = make_app(fake_service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        login = await on_auth_code_screen(pilot)
        assert "^y Copy link" in key_bar(app) and "^b Open link" in key_bar(app)
        await pilot.press("ctrl+y")
        assert clipboard.copied == [login.url, login.url]
        assert link_status(app) == "Link copied to the clipboard."
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: len(opener.opened) == 2)
        assert opener.opened == [login.url, login.url]
        await wait_until(pilot, lambda: link_status(app) == "Opened the link in your browser.")


async def test_ctrl_l_shows_the_link_alone(fake_service, make_app):
    app = make_app(fake_service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        login = await on_auth_code_screen(pilot)
        await pilot.press("ctrl+l")
        await wait_for_screen(pilot, "LinkScreen")
        lines = [line.rstrip() for line in screen_text(app).splitlines() if line.strip()]
        # Nothing but the link, from the first column: no title, border, indent or key bar.
        assert "".join(lines) == login.url
        assert all(not line.startswith(" ") for line in lines)
        await pilot.press("escape")
        await wait_for_screen(pilot, "AuthCodeScreen")
        assert app.screen.login is login


async def test_without_a_clipboard_in_tmux_the_link_goes_through_tmux_and_says_so(
    store, fake, clock, make_app, clipboard, tmp_path
):
    clipboard.available = False
    tmux = f"{tmp_path}/tmux-0/default,1,0"  # only $TMUX's value; no server is there
    service = AuthService(store, env=fake.env() | {"TMUX": tmux}, clock=clock)
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        written: list[str] = []
        # What would reach the terminal (run_app's driver hands itself over as app.terminal).
        app.terminal = SimpleNamespace(write=written.append, flush=lambda: None)
        login = await on_auth_code_screen(pilot)
        await pilot.press("ctrl+y")
        encoded = base64.b64encode(login.url.encode()).decode()
        assert written[-1] == f"\x1bPtmux;\x1b\x1b]52;c;{encoded}\a\x1b\\"
        assert app.clipboard == login.url  # Textual's own copy too: a bare OSC 52, kept for paste
        assert "copied" not in link_status(app)
        assert link_status(app).startswith("Link sent to your terminal through tmux (OSC 52)")
        assert "allow-passthrough on" in link_status(app)


async def test_after_a_denial_copied_is_said_only_if_the_new_link_was(
    fake_service, fake, make_app, clipboard
):
    app = make_app(fake_service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        first = await on_auth_code_screen(pilot)
        clipboard.available = False  # the new link can only be sent by OSC 52, unconfirmed
        fake.anthropic.deny_next_authorize()
        async with httpx.AsyncClient(verify=client_tls(), follow_redirects=True) as browser:
            await browser.get(first.url)
        await wait_for_text(pilot, "Anthropic did not authorize the login (The user denied access).")
        await wait_until(pilot, lambda: app.screen.login is not None and app.screen.login is not first)
        await wait_until(pilot, lambda: "OSC 52" in link_status(app))
        assert "copied" not in link_status(app)
        assert "copied" not in str(app.screen.query_one("#feedback").content)
        assert "A new link was made and copied" not in flat(app)
