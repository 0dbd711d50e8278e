"""The status panel and its keys: refresh, test, log out, help, the command palette."""

from __future__ import annotations

from typing import Any

import pytest

from app.service import AuthService
from tests.tui.helpers import (
    HOUR_MS,
    card,
    flat,
    read_doc,
    screen_text,
    seed,
    wait_for_screen,
    wait_for_text,
    wait_until,
)


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    return AuthService(store, env=fake.env(), clock=clock)


@pytest.fixture
def logged_in(store: Any, fake: Any, clock: Any) -> dict[str, str]:
    """A live Anthropic login in the store, expiring in two hours."""
    tokens = fake.anthropic.seed_login()
    seed(store, "anthropic", tokens, expires=clock.ms() + 2 * HOUR_MS, email="ada@example.com")
    return tokens


async def test_empty_store_says_nothing_is_logged_in(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)):
        assert "Nothing is logged in yet. Press l to log in." in flat(app)
        assert "State ● not logged in" in card(app, "anthropic")
        assert "Press l to log in." in card(app, "github-copilot")


async def test_countdown_moves_with_the_injected_clock(service, make_app, logged_in, clock):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Nothing is logged in yet" not in flat(app)
        assert "Expiry expires in 2h 00m" in card(app, "anthropic")
        assert "Account ada@example.com" in card(app, "anthropic")
        clock.advance(61)
        await wait_until(pilot, lambda: "expires in 1h 58m" in card(app, "anthropic"), timeout=3)
        clock.advance(2 * 3600)
        await wait_until(pilot, lambda: "expired, will refresh" in card(app, "anthropic"), timeout=3)
        assert "Expiry expired 1m 01s ago" in card(app, "anthropic")


async def test_a_login_is_shown_due_five_minutes_before_it_expires(service, make_app, logged_in, clock):
    # pi 1.x's rule: due at now + 5 min ≥ expires; the panel reloads then, not at expiry.
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        clock.advance(2 * 3600 - 5 * 60 - 1)
        await wait_until(pilot, lambda: "expires in 5m 01s" in card(app, "anthropic"), timeout=3)
        assert "State ● logged in" in card(app, "anthropic")
        clock.advance(2)
        await wait_until(pilot, lambda: "expired, will refresh" in card(app, "anthropic"), timeout=3)
        assert "Expiry expires in 4m 59s" in card(app, "anthropic")


async def test_environment_key_is_shown_as_the_source_with_what_it_shadows(store, clock, make_app):
    env = {
        "ANTHROPIC_OAUTH_TOKEN": "sk-ant-oat01-" + "x" * 40 + "WXYZ",
        "ANTHROPIC_API_KEY": "sk-ant-api03-zz",
    }
    app = make_app(AuthService(store, env=env, clock=clock))
    async with app.run_test(size=(80, 24)):
        shown = card(app, "anthropic")
        assert "Source $ANTHROPIC_OAUTH_TOKEN, an OAuth token; also set, not used: ANTHROPIC_API_KEY" in shown
        assert "Token sk-ant-oat01-…WXYZ" in shown
        assert "x" * 40 not in screen_text(app)


async def test_refresh_replaces_the_tokens_and_says_so(service, store, fake, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "Refreshed Anthropic (Claude Pro/Max); expires in 7h 55m.")
        entry = read_doc(store)["anthropic"]
        assert entry["access"] != logged_in["access"] and entry["refresh"] != logged_in["refresh"]
        assert fake.anthropic.is_access_valid(entry["access"])
        assert "Expiry expires in 7h 55m" in card(app, "anthropic")
        assert f"…{entry['access'][-4:]}" in card(app, "anthropic")


async def test_refused_refresh_shows_the_sentence_and_the_failed_state(
    service, store, fake, make_app, logged_in
):
    fake.anthropic.revoke_all()
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "Anthropic no longer accepts this login")
        shown = card(app, "anthropic")
        assert "State ● refresh failed" in shown
        assert "Last error" in shown and "Anthropic no longer accepts this login" in shown
        assert read_doc(store)["anthropic"]["refresh"] == logged_in["refresh"]  # never deleted
        assert "Traceback" not in screen_text(app)


async def test_refresh_of_a_provider_without_a_stored_login_explains(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for_text(pilot, "Nothing to refresh for Anthropic (Claude Pro/Max): it is not logged in.")


async def test_test_action_makes_one_real_call(service, fake, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await wait_for_text(pilot, "Anthropic (Claude Pro/Max): OK:")
        assert fake.count("anthropic.messages") == 1


@pytest.mark.parametrize(("down", "up"), [("down", "up"), ("j", "k")])
async def test_arrow_keys_choose_the_provider_that_r_and_t_act_on(service, make_app, logged_in, down, up):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        accounts = app.screen.accounts
        assert app.focused is accounts and accounts.selected == "anthropic"
        await pilot.press(down)
        assert accounts.selected == "github-copilot"
        assert app.screen.query_one("#details").border_title == "GitHub Copilot"
        await pilot.press("t")
        await wait_for_text(pilot, "Not logged in to GitHub Copilot. Run `pi-tui login github-copilot`")
        await pilot.press(up)
        assert accounts.selected == "anthropic"


async def test_the_arrow_keys_choose_the_provider_that_r_and_t_act_on(
    service, store, fake, make_app, logged_in
):
    """Nine providers, one line each: r and t act on the selected line, whichever it is."""
    never = 9_007_199_254_740_991  # pi's "never expires": an OpenRouter key
    seed(store, "openrouter", {"access": "sk-or-v1-" + "k" * 60, "refresh": ""}, expires=never)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        order = [s.provider for s in app.screen.accounts.statuses]
        assert order[:3] == ["anthropic", "openrouter", "github-copilot"]  # logged-in ones first
        assert len(order) == 9
        openrouter = next(line for line in screen_text(app).splitlines() if "OpenRouter" in line)
        assert openrouter.rstrip().endswith("never")
        await pilot.press("down")
        assert app.screen.accounts.selected == "openrouter"
        assert "Expiry does not expire" in card(app, "openrouter")
        await pilot.press("r")
        await wait_for_text(pilot, "Nothing to refresh for OpenRouter OAuth: its login does not expire.")
        await pilot.press("down", "t")
        assert app.screen.accounts.selected == "github-copilot"
        await wait_for_text(pilot, "Not logged in to GitHub Copilot. Run `pi-tui login github-copilot`")
        await pilot.press("up", "up", "t")
        assert app.screen.accounts.selected == "anthropic"
        await wait_for_text(pilot, "Anthropic (Claude Pro/Max): OK:")
        assert fake.count("anthropic.messages") == 1


async def test_unexpected_error_is_a_masked_sentence(service, make_app, logged_in, monkeypatch):
    async def boom(provider_id: str) -> str:
        raise RuntimeError("socket closed while sending sk-ant-oat01-AAAAAAAAAAAAAAAAAAAAAAAAAAAA1234")

    monkeypatch.setattr(service, "test", boom)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await wait_for_text(pilot, "Unexpected error: socket closed while sending sk-ant-oat01-…1234")
        assert "AAAAAAAAAAAA" not in screen_text(app)


async def test_logout_asks_then_deletes_the_tokens(service, store, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")  # the selected provider: the logged-in one, listed first
        await wait_for_screen(pilot, "ConfirmScreen")
        assert f"Log out of Anthropic (Claude Pro/Max)? This deletes its tokens from {store.path}." in flat(
            app
        )
        await pilot.press("y")
        await wait_for_screen(pilot, "StatusScreen")
        assert "anthropic" not in read_doc(store)
        assert (
            f"Logged out of Anthropic (Claude Pro/Max). Its tokens were deleted from {store.path}."
            in flat(app)
        )
        assert "State ● not logged in" in card(app, "anthropic")


async def test_logout_answered_no_changes_nothing(service, store, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.run_action("logout")  # the palette's Log out: the select first
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ConfirmScreen")
        assert app.focused.id == "no"
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        assert read_doc(store)["anthropic"]["access"] == logged_in["access"]
        assert "Logout cancelled; nothing was changed." in flat(app)


async def test_logout_select_offers_only_stored_logins(service, make_app, logged_in):
    app = make_app(service, start="logout")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ProviderSelectScreen")
        assert "Select provider to logout:" in flat(app)
        options = app.screen.query_one("#providers")
        assert not options.get_option("anthropic").disabled
        assert options.get_option("github-copilot").disabled
        assert "✓ Anthropic (Claude Pro/Max)" in screen_text(app)
        assert "GitHub Copilot  (not logged in)" in screen_text(app)
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")


async def test_logout_with_nothing_stored_says_so(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        assert type(app.screen).__name__ == "StatusScreen"
        assert "Nothing to log out of for Anthropic (Claude Pro/Max): it is not logged in." in flat(app)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.run_action("logout")  # the palette's Log out
        await pilot.pause()
        assert type(app.screen).__name__ == "StatusScreen"
        assert "Nothing to log out of: no login is stored." in flat(app)


async def test_logout_of_a_named_provider_goes_straight_to_confirm(service, store, make_app, logged_in):
    app = make_app(service, start="logout", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.press("y")
        await wait_for_screen(pilot, "StatusScreen")
        assert "anthropic" not in read_doc(store)


async def test_provider_select_moves_with_j_and_k_and_escape_goes_back(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        assert "Select provider to login:" in flat(app)
        options = app.screen.query_one("#providers")
        assert options.highlighted == 0
        await pilot.press("j")
        assert options.highlighted == 1
        await pilot.press("k")
        assert options.highlighted == 0
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")


async def test_help_lists_every_key_and_where_things_are(service, store, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for_screen(pilot, "HelpScreen")
        text = " ".join(screen_text(app).split())
        for key in (
            "l Log in",
            "o Log out of the selected provider",
            "r Refresh",
            "t Make one real API call",
            "q Leave",
            "ctrl+c Leave pi-tui, from any screen",
        ):
            assert key in text
        assert f"Credentials {store.path}" in flat(app)
        assert "Logs ~/logs/pi-tui.log" in flat(app)
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")


async def test_every_status_key_is_in_the_command_palette(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Log in", "Log out", "Refresh", "Test", "Help", "Quit"} <= titles


async def test_palette_command_runs_the_action(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Log in")
        await command.callback()
        await wait_for_screen(pilot, "ProviderSelectScreen")


async def test_q_quits(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_unreadable_store_is_shown_not_replaced(store, clock, make_app):
    store.path.parent.mkdir(mode=0o700, parents=True)
    store.path.write_text("{ this is not json")
    store.path.chmod(0o600)
    app = make_app(AuthService(store, env={}, clock=clock))
    async with app.run_test(size=(80, 24)):
        shown = card(app, "anthropic")
        assert "State ● store unreadable" in shown
        assert "Last error " in shown
        assert "Nothing is logged in yet" not in flat(app)
    assert store.path.read_text() == "{ this is not json"


async def test_l_opens_the_provider_list_at_the_provider_selected_on_the_panel(service, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down")
        selected = app.screen.accounts.selected
        assert selected not in (None, "anthropic")
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        options = app.screen.query_one("#providers")
        assert options.get_option_at_index(options.highlighted).id == selected


async def test_t_shows_the_services_sentence_as_it_is(service, make_app, logged_in, monkeypatch):
    from app.errors import AuthError

    sentence = "Anthropic (Claude Pro/Max) answered the test call with an empty model list."

    async def fails(provider_id: str) -> str:
        raise AuthError(sentence)

    monkeypatch.setattr(service, "test", fails)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        message = app.screen.query_one("#message")
        await wait_until(pilot, lambda: "Testing" not in str(message.content))
        assert str(message.content) == sentence
        assert message.has_class("-failure")
