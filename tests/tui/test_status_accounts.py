"""Several accounts of a provider on the status panel: their lines, s (switch), o on a stored
account (log out of it alone), a (log in to another), and a failure as one line on the panel."""

from __future__ import annotations

import errno
import json
import os
from typing import Any

import pytest

from app.accounts import VAULT_NAME
from app.service import AuthService
from app.store import CredentialStore
from app.tui.screens import status as status_screen
from tests.tui.helpers import (
    HOUR_MS,
    flat,
    key_bar,
    screen_text,
    wait_for_screen,
    wait_for_text,
    wait_until,
)

ADA = "ada@example.com"
BOB = "bob@example.com"


@pytest.fixture
def service(store: CredentialStore, fake: Any, clock: Any) -> AuthService:
    return AuthService(store, env=fake.env(), clock=clock)


def login(fake: Any, clock: Any, email: str, *, expires_in: int = 8 * HOUR_MS) -> dict[str, Any]:
    """A live Anthropic login at the fake for ``email``, as pi stores it."""
    tokens = fake.anthropic.seed_login(email)
    return {
        "type": "oauth",
        "refresh": tokens["refresh"],
        "access": tokens["access"],
        "expires": clock.ms() + expires_in,
    }


def two_accounts(
    service: AuthService, fake: Any, clock: Any, **ada: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Anthropic: Ada stored by pi-tui (labelled "work"), Bob the active one in pi's file."""
    first, second = login(fake, clock, ADA, **ada), login(fake, clock, BOB)
    accounts = service.accounts()
    accounts.add_account("anthropic", first, ADA, "work")
    accounts.add_account("anthropic", second, BOB)
    return first, second


def pi_entry(store: CredentialStore) -> dict[str, Any]:
    entry = json.loads(store.path.read_text())["anthropic"]
    assert isinstance(entry, dict)
    return entry


def vault(store: CredentialStore) -> list[dict[str, Any]]:
    path = store.path.with_name(VAULT_NAME)
    records = json.loads(path.read_text())["providers"].get("anthropic", []) if path.exists() else []
    assert isinstance(records, list)
    return records


def lines_with(app: Any, text: str) -> list[str]:
    return [line for line in screen_text(app).splitlines() if text in line]


async def on_stored_account(pilot: Any) -> None:
    """Move the cursor from Anthropic's line to the stored account under it."""
    await pilot.press("down")
    await wait_until(pilot, lambda: pilot.app.screen.accounts.current_account() is not None)


def test_the_panel_names_the_file_app_accounts_names() -> None:
    assert status_screen.VAULT_NAME == VAULT_NAME  # kept apart only so a plain start skips the import


async def test_a_stored_account_has_its_own_line_under_its_provider(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        lines = screen_text(app).splitlines()
        top = next(i for i, line in enumerate(lines) if "Anthropic" in line)
        assert BOB in lines[top] and "● logged in" in lines[top]
        assert "└" in lines[top + 1] and ADA[:12] in lines[top + 1] and "○ logged in" in lines[top + 1]
        assert len(lines_with(app, "Anthropic")) == 2  # its line, and its details' title
        # On the provider's line: its keys as before, and a to add another account.
        assert "r Refresh" in key_bar(app) and "a Add account" in key_bar(app)
        assert "s Switch" not in key_bar(app)
        await on_stored_account(pilot)
        assert "s Switch" in key_bar(app) and "o Log out" in key_bar(app)
        assert "r Refresh" not in key_bar(app) and "t Test" not in key_bar(app)
        rows = {row.label: row.value for row in app.screen.query_one("#details").rows()}
        assert (
            rows["Account"] == ADA and rows["Label"] == "work" and rows["State"] == "○ logged in, not in use"
        )
        assert rows["Stored in"] == str(store.path.with_name(VAULT_NAME))
        assert "Press s to make it the account pi uses, o to log out of it." in flat(app) + screen_text(app)


async def test_s_switches_to_the_stored_account(service, store, fake, clock, make_app):
    ada, bob = two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "Switched Anthropic (Claude Pro/Max) to ada@example.com (work)")
        assert "bob@example.com is kept by pi-tui" in flat(app)
        assert pi_entry(store) == ada
        assert vault(store) == [{"account": BOB, "label": None, "entry": bob}]
        # Reloaded: Ada on the provider's line (the cursor there), Bob stored under it.
        accounts = app.screen.accounts
        assert accounts.selected == "anthropic" and accounts.current_account() is None
        assert [(r.account, r.active) for r in accounts.stored] == [(BOB, False)]
        assert ADA in lines_with(app, "Anthropic")[0]
        assert "s Switch" not in key_bar(app)
        assert not app.screen.query_one("#message").has_class("-failure")


async def test_o_on_a_stored_account_logs_out_of_it_alone(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    before = store.path.read_bytes()
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        question = "Log out of the Anthropic (Claude Pro/Max) account ada@example.com (work)?"
        assert question in flat(app) and "pi's file is not changed" in flat(app)
        await pilot.press("y")
        await wait_for_text(
            pilot, "Logged out of the Anthropic (Claude Pro/Max) account ada@example.com (work);"
        )
        assert store.path.read_bytes() == before
        assert vault(store) == []
        assert app.screen.accounts.stored == () and app.screen.accounts.current_account() is None
        assert not [line for line in lines_with(app, ADA[:12]) if "└" in line]


async def test_o_on_a_stored_account_then_no_changes_nothing(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    before = (store.path.read_bytes(), store.path.with_name(VAULT_NAME).read_bytes())
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.press("n")
        await wait_for_text(pilot, "Logout cancelled; nothing was changed.")
        assert (store.path.read_bytes(), store.path.with_name(VAULT_NAME).read_bytes()) == before


async def test_a_opens_the_login_of_the_selected_provider(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    tokens = fake.github.seed_login("octocat")
    store.put(
        "github-copilot",
        {"type": "oauth", "refresh": tokens, "access": "tid=x", "expires": clock.ms() + HOUR_MS},
    )
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down")  # past Anthropic's stored account, onto Copilot
        await wait_until(pilot, lambda: app.screen.accounts.selected == "github-copilot")
        assert "a Add account" not in key_bar(app)  # one account: l says the same, the bar stays short
        await pilot.press("a")
        # Adding: no "replace, or add?" question; the login starts with its own first step.
        await wait_for_screen(pilot, "QuestionScreen")
        assert "GitHub Copilot" in flat(app)


async def test_a_on_a_provider_with_several_accounts(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    app = make_app(service)
    started: list[tuple[str | None, bool]] = []
    app.begin_login = lambda provider, *, add=False: started.append((provider, add))  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        assert "a Add account" in key_bar(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: started)
        assert started == [("anthropic", True)]


async def test_a_on_a_provider_without_a_login_does_nothing(service, make_app):
    app = make_app(service)
    started: list[str | None] = []
    app.begin_login = started.append  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert started == [] and "Add account" not in key_bar(app)


async def test_a_refused_refresh_of_the_stored_account_is_one_line(service, store, fake, clock, make_app):
    ada, bob = two_accounts(service, fake, clock, expires_in=-HOUR_MS)  # Ada's token must be refreshed
    fake.anthropic.revoke(ada["refresh"])
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "Anthropic (Claude Pro/Max) account ada@example.com:")
        message = str(app.screen.query_one("#message").content)
        assert "\n" not in message and "Traceback" not in message
        assert "no longer accepts this login" in message
        assert app.screen.query_one("#message").has_class("-failure")
        assert pi_entry(store) == bob  # nothing moved
        assert [r["account"] for r in vault(store)] == [ADA]
        assert app.screen.accounts.current_account() is not None  # still on Ada's line


async def test_a_vault_that_cannot_be_written_is_one_line(service, store, fake, clock, make_app, monkeypatch):
    ada, bob = two_accounts(service, fake, clock)
    real_open = os.open

    def read_only_vault(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if VAULT_NAME in str(path) and str(path).endswith(".tmp"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        monkeypatch.setattr(os, "open", read_only_vault)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.screen.query_one("#message").has_class("-failure"))
        message = str(app.screen.query_one("#message").content)
        assert "read-only" in message and "\n" not in message and "Traceback" not in message
        monkeypatch.undo()
        assert pi_entry(store) == bob
        assert [r["entry"] for r in vault(store)] == [ada]


async def test_a_vault_that_cannot_be_read_is_said_and_the_logins_still_listed(
    service, store, fake, clock, make_app
):
    two_accounts(service, fake, clock)
    store.path.with_name(VAULT_NAME).write_text('{"version": 1, "providers": []}')
    app = make_app(service)
    async with app.run_test(size=(80, 24)):
        assert "is not a pi-tui accounts file" in flat(app)
        assert BOB in lines_with(app, "Anthropic")[0]
        assert app.screen.accounts.stored == ()


async def test_a_switch_made_elsewhere_shows_on_the_panel(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await service.accounts().switch("anthropic", ADA)  # e.g. `pi-tui switch` in another terminal
        await wait_until(pilot, lambda: [r.account for r in app.screen.accounts.stored] == [BOB], timeout=5)
        assert ADA in lines_with(app, "Anthropic")[0]


async def test_a_stored_account_logged_out_elsewhere_goes_from_the_panel(
    service, store, fake, clock, make_app
):
    two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        service.accounts().remove("anthropic", ADA)  # only the vault changes, not pi's file
        await wait_until(pilot, lambda: app.screen.accounts.stored == (), timeout=5)
        assert app.screen.accounts.current_account() is None and app.screen.accounts.selected == "anthropic"


def five_hours_at(percent: float) -> dict[str, Any]:
    """Anthropic's usage answer: the 5-hour window ``percent`` used."""
    return {"five_hour": {"utilization": percent, "resets_at": None}, "seven_day": None}


async def test_after_a_switch_each_account_keeps_its_own_usage(service, store, fake, clock, make_app):
    two_accounts(service, fake, clock)
    fake.anthropic.usage_body = five_hours_at(40.0)  # Bob's, asked for at the start
    app = make_app(service, usage=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "40%" in lines_with(app, "Anthropic")[0])
        fake.anthropic.usage_body = five_hours_at(90.0)  # Ada's, once she is the one in use
        await on_stored_account(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "Switched Anthropic")
        await wait_until(pilot, lambda: "90%" in lines_with(app, "Anthropic")[0])
        assert ADA in lines_with(app, "Anthropic")[0]
        bob = next(line for line in lines_with(app, BOB) if "└" in line)
        assert "40%" in bob  # what the panel saw of Bob while he was in use
        assert fake.count("anthropic.usage") == 2


async def test_o_never_removes_an_account_switched_to_while_asking(service, store, fake, clock, make_app):
    ada, _ = two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        await service.accounts().switch("anthropic", ADA)  # `pi-tui switch` elsewhere, meanwhile
        await pilot.press("y")
        await wait_for_text(
            pilot, "is now the active Anthropic (Claude Pro/Max) account; nothing was changed."
        )
        assert app.screen.query_one("#message").has_class("-failure")
        assert pi_entry(store) == ada  # pi's login was not logged out of


async def test_a_stored_account_falling_due_says_so_without_a_file_change(
    service, store, fake, clock, make_app
):
    two_accounts(service, fake, clock, expires_in=10 * 60_000)  # due 5 minutes before it expires
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        line = next(line for line in lines_with(app, ADA[:12]) if "└" in line)
        assert "○ logged in" in line
        clock.advance(5 * 60 + 1)
        await wait_until(pilot, lambda: app.screen.accounts.stored[0].state.word == "expired", timeout=3)
        line = next(line for line in lines_with(app, ADA[:12]) if "└" in line)
        assert "○ refresh due" in line


async def test_a_provider_with_only_stored_accounts_is_listed_with_the_logins(
    service, store, fake, clock, make_app
):
    tokens = [fake.github.seed_login(user) for user in ("octocat", "hubot")]
    accounts = service.accounts()
    for user, refresh in zip(("@octocat", "@hubot"), tokens, strict=True):
        entry = {
            "type": "oauth",
            "refresh": refresh,
            "access": f"tid={user}",
            "expires": clock.ms() + HOUR_MS,
        }
        accounts.add_account("github-copilot", entry, user)
    service.logout("github-copilot")  # pi uses none of them now; @octocat stays stored
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        list_ = app.screen.accounts
        assert list_.statuses[0].provider == "github-copilot"  # ahead of the providers with none
        assert [r.account for r in list_.stored] == ["@octocat"]
        assert not app.screen.query_one("#empty").display
        await on_stored_account(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "Switched GitHub Copilot to @octocat.")
        assert json.loads(store.path.read_text())["github-copilot"]["refresh"] == tokens[0]


async def test_stored_accounts_under_an_ascii_locale(store, fake, clock, make_app):
    service = AuthService(store, env={**fake.env(), "LANG": "C"}, clock=clock)
    two_accounts(service, fake, clock)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_stored_account(pilot)
        text = screen_text(app)
        assert not set("○└●▸") & set(text)  # (a cut name ends in "…" and a masked token has one)
        assert ">   `- ada@example.com (work)" in text and "o logged in" in text
