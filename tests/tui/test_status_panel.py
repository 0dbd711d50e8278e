"""The status panel for any number of providers, what it calls a credential, a token's life,
messages that belong to their moment, and the keys each screen shows (footer, palette, help)."""

from __future__ import annotations

from typing import Any

import pytest

from app.credentials import State
from app.errors import Cancelled
from app.service import AuthService
from tests.tui.doubles import SEVEN, FixedStatuses, account
from tests.tui.helpers import (
    HOUR_MS,
    card,
    flat,
    key_bar,
    screen_text,
    seed,
    seed_fake_anthropic,
    wait_for_screen,
    wait_for_text,
    wait_until,
)

MINUTE_MS = 60_000


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    return AuthService(store, env=fake.env(), clock=clock)


# -- seven providers -------------------------------------------------------------------------


def seven(clock: Any, store: Any, logged_in: tuple[str, ...]) -> FixedStatuses:
    now = clock.ms()
    statuses = [
        account(
            p,
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            account=f"{p}@example.com",
            expires_ms=now + HOUR_MS,
        )
        if p in logged_in
        else account(p)
        for p, _ in SEVEN
    ]
    return FixedStatuses(statuses, clock=clock, store_path=store.path)


async def test_seven_providers_one_line_each_logged_in_first_at_80x24(make_app, store, clock):
    app = make_app(seven(clock, store, ("xai", "meta")))
    async with app.run_test(size=(80, 24)):
        accounts = app.screen.accounts
        assert [s.provider for s in accounts.statuses] == [
            "xai",
            "meta",
            "anthropic",
            "github-copilot",
            "openai-codex",
            "kimi-coding",
            "openrouter",
        ]
        text = screen_text(app)
        for _, name in SEVEN:
            assert name in text  # every provider on its own line, none cut
        lines = text.splitlines()
        assert "xai@example.com" in next(line for line in lines if "xAI (SuperGrok)" in line)
        assert "1h 00m" in next(line for line in lines if "Meta (Muse)" in line)
        assert app.screen.query_one("#details").border_title == "xAI (SuperGrok)"
        assert "l Log in" in key_bar(app) and "q/^c Quit" in key_bar(app)


async def test_a_store_that_cannot_be_read_is_listed_with_the_logins(make_app, store, clock):
    statuses = [account(p) for p, _ in SEVEN]
    statuses[3] = account(
        "xai", state=State.LOGGED_IN, source="oauth.json", stored=True, expires_ms=clock.ms() + HOUR_MS
    )
    statuses[4] = account("kimi-coding", state=State.UNREADABLE, last_error="The store cannot be read.")
    app = make_app(FixedStatuses(statuses, clock=clock, store_path=store.path))
    async with app.run_test(size=(80, 24)):
        order = [s.provider for s in app.screen.accounts.statuses]
        assert order[:3] == ["xai", "kimi-coding", "anthropic"]


async def test_j_and_k_select_and_the_details_follow(make_app, store, clock):
    app = make_app(seven(clock, store, ()))
    async with app.run_test(size=(80, 24)) as pilot:
        details = app.screen.query_one("#details")
        await pilot.press("j", "j", "down")
        assert app.screen.accounts.selected == "xai"
        assert details.border_title == "xAI (SuperGrok)"
        await pilot.press("k")
        assert details.border_title == "ChatGPT Plus/Pro (Codex)"
        await pilot.press("k", "k", "k")  # stops at the top
        assert app.screen.accounts.selected == "anthropic"


async def test_list_countdown_is_live(service, store, clock, make_app, fake):
    seed(store, "anthropic", fake.anthropic.seed_login(), expires=clock.ms() + 2 * HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        line = next(line for line in screen_text(app).splitlines() if "Anthropic" in line)
        assert line.rstrip().endswith("2h 00m")
        clock.advance(61)
        await wait_until(pilot, lambda: "1h 58m" in screen_text(app), timeout=3)


async def test_o_asks_about_the_selected_provider(service, store, clock, make_app, fake):
    seed(store, "github-copilot", fake.anthropic.seed_login(), expires=clock.ms() + HOUR_MS)
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "o")
        await wait_for_screen(pilot, "ConfirmScreen")
        assert "Log out of GitHub Copilot?" in flat(app)


# -- what a credential is ----------------------------------------------------------------------


async def test_an_api_key_is_labelled_as_one_and_r_says_why_nothing_to_refresh(store, clock, make_app):
    app = make_app(
        AuthService(store, env={"ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 30 + "9z8y"}, clock=clock)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        shown = card(app, "anthropic")
        assert "State ● API key" in shown
        assert "logged in" not in shown
        assert "Source $ANTHROPIC_API_KEY, an API key (not a login)" in shown
        assert "Key sk-ant-api03-…9z8y" in shown
        await pilot.press("r")
        await wait_for_text(
            pilot,
            "Nothing to refresh for Anthropic (Claude Pro/Max): it uses an API key ($ANTHROPIC_API_KEY), "
            "which has no expiry to renew.",
        )


async def test_an_oauth_token_from_the_environment_is_not_called_a_login(store, clock, make_app):
    app = make_app(AuthService(store, env={"ANTHROPIC_OAUTH_TOKEN": "sk-ant-oat01-" + "x" * 40}, clock=clock))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "State ● OAuth token" in card(app, "anthropic")
        await pilot.press("r")
        await wait_for_text(pilot, "it uses $ANTHROPIC_OAUTH_TOKEN, a token pi-tui cannot renew")


# -- a token's life ---------------------------------------------------------------------------


async def test_a_tokens_life_is_on_the_panel(make_app, store, clock):
    now = clock.ms()
    status = account(
        "anthropic",
        state=State.LOGGED_IN,
        source="oauth.json",
        stored=True,
        kind="oauth",
        expires_ms=now + 7 * HOUR_MS,
        logged_in_at_ms=now - 3 * HOUR_MS,
        refreshed_at_ms=now - 12 * MINUTE_MS,
        refreshed_by="pi-tui token",
        next_refresh_ms=now + 7 * HOUR_MS,
    )
    app = make_app(FixedStatuses([status, account("github-copilot")], clock=clock, store_path=store.path))
    async with app.run_test(size=(80, 24)):
        shown = card(app, "anthropic")
        assert "Logged in 3h 00m ago" in shown
        assert "Refreshed 12m 00s ago by pi-tui token" in shown
        assert "Next refresh in 7h 00m, on the next use after that" in shown


async def test_the_last_failure_and_its_sentence_are_on_the_panel(make_app, store, clock):
    now = clock.ms()
    status = account(
        "anthropic",
        state=State.REFRESH_FAILED,
        source="oauth.json",
        stored=True,
        kind="oauth",
        expires_ms=now - HOUR_MS,
        last_error="Anthropic no longer accepts this login. Log in again to continue.",
        failed_at_ms=now - 5 * MINUTE_MS,
        next_refresh_ms=now - HOUR_MS,
    )
    app = make_app(FixedStatuses([status, account("github-copilot")], clock=clock, store_path=store.path))
    async with app.run_test(size=(80, 24)):
        shown = card(app, "anthropic")
        assert "Last error 5m 00s ago: Anthropic no longer accepts this login." in shown
        assert "Next refresh" not in shown  # it will not happen by itself
        assert "refresh failed" in screen_text(app)


# -- messages belong to their moment -----------------------------------------------------------


async def test_a_message_goes_when_the_state_it_spoke_of_changes(service, store, clock, make_app, fake):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "r")
        said = "Nothing to refresh for GitHub Copilot: it is not logged in."
        await wait_for_text(pilot, said)
        seed(
            store,
            "github-copilot",
            fake.anthropic.seed_login(),
            expires=clock.ms() + HOUR_MS,
            login="octocat",
        )
        await wait_until(pilot, lambda: "@octocat" in screen_text(app), timeout=3)
        assert said not in flat(app)


async def test_a_message_goes_when_another_provider_is_selected(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "Nothing to refresh for Anthropic")
        await pilot.press("down")
        assert "Nothing to refresh" not in flat(app)


async def test_a_message_goes_when_the_user_leaves_for_a_login_and_comes_back(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "Nothing to refresh for Anthropic")
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        assert "Nothing to refresh" not in flat(app)


async def test_a_result_said_after_a_logout_stays(service, store, clock, make_app):
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.press("y")
        await wait_for_text(pilot, "Logged out of Anthropic (Claude Pro/Max).")
        await pilot.pause(1.2)  # a tick re-reads the store: the sentence is still true
        assert "Logged out of Anthropic (Claude Pro/Max)." in flat(app)


# -- keys: footer, palette, help ---------------------------------------------------------------


async def test_the_logout_confirmation_shows_its_own_keys(service, store, clock, make_app):
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        assert key_bar(app) == "y Yes  esc/n No  ^c Quit"
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Refresh" not in titles and "Log in" not in titles
        assert {"Yes", "No", "Quit"} <= set(titles)


async def test_quit_is_listed_once_in_the_palette_and_footer(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Quit") == 1
        assert key_bar(app).count("Quit") == 1
        assert {"Log in", "Log out", "Refresh", "Test", "Help"} <= set(titles)


async def test_ctrl_c_is_listed_on_every_screen(service, store, clock, make_app):
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "^c" in key_bar(app)
        for key, screen in (
            ("l", "ProviderSelectScreen"),
            ("escape", "StatusScreen"),
            ("question_mark", "HelpScreen"),
        ):
            await pilot.press(key)
            await wait_for_screen(pilot, screen)
            assert "^c" in key_bar(app)
        await pilot.press("escape")
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ChoiceScreen")  # a login is stored: replace it, or add?
        await wait_until(pilot, lambda: "^c Quit" in screen_text(app))
        await pilot.press("r")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await wait_until(pilot, lambda: "^c Quit" in screen_text(app))
        await pilot.press("enter")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await wait_until(pilot, lambda: "^c Quit" in screen_text(app))


async def test_ctrl_c_quits_from_a_login(service, make_app):
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert not app.is_running and app.return_code == Cancelled.exit_code  # no login was made


async def test_textuals_keys_panel_closes_with_escape(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Keys")
        command.callback()
        await wait_until(pilot, lambda: app.screen.query("HelpPanel"))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.screen.query("HelpPanel"))
        assert type(app.screen).__name__ == "StatusScreen"


async def test_on_a_short_terminal_the_list_scrolls_with_the_cursor(make_app, store, clock):
    app = make_app(seven(clock, store, ()))
    async with app.run_test(size=(40, 12)) as pilot:
        # A sentence at the foot takes lines from the list: seven rows no longer fit.
        app.screen.say("A sentence long enough to take three lines of a terminal forty columns wide.")
        await pilot.pause()
        accounts = app.screen.accounts
        names = {s.provider: s.name for s in accounts.statuses}

        def cursor_row_shown() -> bool:
            row = next((line for line in screen_text(app).splitlines() if "▸" in line), "")
            return names[accounts.selected][:8] in row

        for key in ["down"] * 6 + ["up"] * 6:
            await pilot.press(key)
            await wait_until(pilot, cursor_row_shown, timeout=3)
        assert accounts.selected == "anthropic"


@pytest.mark.parametrize(
    ("locale", "cursor"),
    [
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, ">"),  # LC_ALL wins, as tmux reads it
        ({"LANG": "POSIX"}, ">"),
        ({"LANG": "C.UTF-8"}, "▸"),
        ({}, "▸"),  # no locale passed (often over SSH): drawn
    ],
)
async def test_a_terminal_that_cannot_draw_the_cursor_gets_an_ascii_one(
    store, clock, make_app, locale, cursor
):
    app = make_app(AuthService(store, env=locale, clock=clock))
    async with app.run_test(size=(80, 24)) as pilot:
        text = screen_text(app)
        assert f"{cursor} Anthropic" in text
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        text += screen_text(app)
        if cursor == ">":  # the list, the details' border, the select's border and hint
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
        else:
            assert "╭" in text and "↑/↓" in text
