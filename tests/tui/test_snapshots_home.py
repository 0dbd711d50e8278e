"""What a person sees on the screens around the logins: status panel, provider select, logout
confirmation, help — at 80×24, and at the smallest (40×12) and a large (200×60) terminal.

Fixed clock, no cursor blink, the store at a fixed path (it is shown). Tokens are recognisable
fakes and must appear masked. Seven-provider panels use FixedStatuses: the panel is built from
AccountStatus alone, so it can be shown with providers the registry does not have yet.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.credentials import State
from app.service import AuthService
from tests.tui.doubles import SEVEN, FixedStatuses, account
from tests.tui.helpers import (
    FAKE_ANTHROPIC,
    HOUR_MS,
    seed,
    seed_fake_anthropic,
    seed_fake_copilot,
    wait_until,
)

SIZES = {"small": (40, 12), "large": (200, 60)}
MINUTE_MS = 60_000


def snap_env(fake: Any) -> dict[str, str]:
    """The fake's overrides, minus the authorize URL: the link on screen stays claude.ai's."""
    return {k: v for k, v in fake.env().items() if k != "PI_TUI_ANTHROPIC_AUTHORIZE_URL"}


@pytest.fixture
def service(fixed_store: Any, clock: Any) -> AuthService:
    """No network: the default endpoints, nothing in the environment."""
    return AuthService(fixed_store, env={}, clock=clock)


async def settle(pilot: Any) -> None:
    """Let workers finish and the screen repaint."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def seven(clock: Any, fixed_store: Any, logged_in: str) -> FixedStatuses:
    """Seven providers: none, some or all of them logged in."""
    now = clock.ms()
    live = {
        "anthropic": account(
            "anthropic",
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            kind="oauth",
            account="ada@example.com",
            expires_ms=now + 7 * HOUR_MS + 55 * MINUTE_MS,
            masked_token="sk-ant-oat01-…a1b2",
            refreshed_at_ms=now - 5 * MINUTE_MS,
            refreshed_by="pi-tui",
            next_refresh_ms=now + 7 * HOUR_MS + 55 * MINUTE_MS,
        ),
        "github-copilot": account(
            "github-copilot",
            state=State.DUE,
            source="oauth.json",
            stored=True,
            kind="oauth",
            account="@octocat",
            expires_ms=now - 3 * MINUTE_MS,
            masked_token="tid=…8f9e",
            api_base="https://api.individual.githubcopilot.com",
            next_refresh_ms=now - 3 * MINUTE_MS,
        ),
        "openai-codex": account(
            "openai-codex",
            state=State.REFRESH_FAILED,
            source="oauth.json",
            stored=True,
            kind="oauth",
            account="grace@example.com",
            expires_ms=now - 2 * HOUR_MS,
            masked_token="eyJh…Q9xw",
            last_error="OpenAI no longer accepts this login; log in again (l).",
            failed_at_ms=now - 12 * MINUTE_MS,
        ),
        "xai": account(
            "xai",
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            kind="oauth",
            account="@linus",
            expires_ms=now + 25 * MINUTE_MS,
            masked_token="xai-…7c1d",
        ),
        "kimi-coding": account(
            "kimi-coding",
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            kind="oauth",
            expires_ms=now + 2 * 86_400_000,
            masked_token="kimi-…00ff",
        ),
        "openrouter": account(
            "openrouter",
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            kind="api_key",
            masked_token="sk-or-v1-…beef",
        ),
        "meta": account(
            "meta",
            state=State.LOGGED_IN,
            source="oauth.json",
            stored=True,
            kind="oauth",
            account="margaret@example.com",
            expires_ms=now + 50 * MINUTE_MS,
            masked_token="muse-…4242",
        ),
    }
    chosen = {"none": (), "some": ("anthropic", "github-copilot", "openai-codex"), "all": tuple(live)}[
        logged_in
    ]
    statuses = [live[p] if p in chosen else account(p) for p, _ in SEVEN]
    return FixedStatuses(statuses, clock=clock, store_path=fixed_store.path)


class TestStatus:
    def test_nothing_logged_in(self, snap_compare, make_app, service):
        assert snap_compare(make_app(service))

    def test_logged_in(self, snap_compare, make_app, service, fixed_store, clock):
        seed_fake_anthropic(fixed_store, expires=clock.ms() + 7 * HOUR_MS + 55 * MINUTE_MS)
        assert snap_compare(make_app(service))

    def test_due_for_refresh(self, snap_compare, make_app, service, fixed_store, clock):
        seed_fake_anthropic(fixed_store, expires=clock.ms() - 3 * MINUTE_MS - 10_000)
        assert snap_compare(make_app(service))

    def test_refresh_failed(self, snap_compare, make_app, fixed_store, clock, fake):
        # The fake never issued these tokens, so it answers invalid_grant.
        seed_fake_anthropic(fixed_store, expires=clock.ms() + HOUR_MS)
        app = make_app(AuthService(fixed_store, env=snap_env(fake), clock=clock))

        async def refresh(pilot: Any) -> None:
            await pilot.press("r")
            await settle(pilot)

        assert snap_compare(app, run_before=refresh)

    def test_both_providers_logged_in(self, snap_compare, make_app, service, fixed_store, clock):
        seed_fake_anthropic(fixed_store, expires=clock.ms() + 7 * HOUR_MS)
        seed_fake_copilot(fixed_store, expires=clock.ms() + 25 * MINUTE_MS)
        app = make_app(service)

        async def select_copilot(pilot: Any) -> None:
            await pilot.press("down")

        assert snap_compare(app, run_before=select_copilot)

    def test_environment_key_shadowing_another(self, snap_compare, make_app, fixed_store, clock):
        env = {
            "ANTHROPIC_OAUTH_TOKEN": FAKE_ANTHROPIC["access"],
            "ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-9z8y",
        }
        assert snap_compare(make_app(AuthService(fixed_store, env=env, clock=clock)))

    def test_api_key_from_the_environment(self, snap_compare, make_app, fixed_store, clock):
        app = make_app(
            AuthService(fixed_store, env={"ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-9z8y"}, clock=clock)
        )
        assert snap_compare(app, press=["r"])

    @pytest.mark.parametrize("logged_in", ["none", "some", "all"])
    def test_seven_providers(self, snap_compare, make_app, fixed_store, clock, logged_in):
        assert snap_compare(make_app(seven(clock, fixed_store, logged_in)))

    def test_seven_providers_failed_one_selected(self, snap_compare, make_app, fixed_store, clock):
        assert snap_compare(make_app(seven(clock, fixed_store, "all")), press=["down", "down"])

    @pytest.mark.parametrize("size", SIZES)
    def test_sizes(self, snap_compare, make_app, service, fixed_store, clock, size):
        seed_fake_anthropic(fixed_store, expires=clock.ms() + 7 * HOUR_MS)
        seed_fake_copilot(fixed_store, expires=clock.ms() + 25 * MINUTE_MS)
        assert snap_compare(make_app(service), terminal_size=SIZES[size])

    @pytest.mark.parametrize("size", SIZES)
    def test_error_wraps(self, snap_compare, make_app, fixed_store, clock, fake, size):
        seed_fake_anthropic(fixed_store, expires=clock.ms() + HOUR_MS)
        app = make_app(AuthService(fixed_store, env=snap_env(fake), clock=clock))

        async def refresh(pilot: Any) -> None:
            await pilot.press("r")
            await settle(pilot)

        assert snap_compare(app, run_before=refresh, terminal_size=SIZES[size])


class TestProviderSelect:
    def test_login(self, snap_compare, make_app, service, fixed_store, clock):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service), press=["l"])

    def test_logout(self, snap_compare, make_app, service, fixed_store, clock):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service, start="logout"))

    @pytest.mark.parametrize("size", SIZES)
    def test_sizes(self, snap_compare, make_app, service, fixed_store, clock, size):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service), press=["l"], terminal_size=SIZES[size])


class TestLogout:
    def test_confirm(self, snap_compare, make_app, service, fixed_store, clock):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service), press=["o"])

    def test_done(self, snap_compare, make_app, service, fixed_store, clock):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service), press=["o", "y"])

    @pytest.mark.parametrize("size", SIZES)
    def test_confirm_sizes(self, snap_compare, make_app, service, fixed_store, clock, size):
        seed(fixed_store, "anthropic", FAKE_ANTHROPIC, expires=clock.ms() + HOUR_MS)
        assert snap_compare(make_app(service), press=["o"], terminal_size=SIZES[size])


class TestHelp:
    def test_help(self, snap_compare, make_app, service):
        assert snap_compare(make_app(service), press=["question_mark"])

    @pytest.mark.parametrize("size", SIZES)
    def test_sizes(self, snap_compare, make_app, service, size):
        assert snap_compare(make_app(service), press=["question_mark"], terminal_size=SIZES[size])

    def test_keys_panel(self, snap_compare, make_app, service):
        async def open_keys_panel(pilot: Any) -> None:
            pilot.app.action_show_help_panel()
            await wait_until(pilot, lambda: pilot.app.screen.query("HelpPanel"))
            await pilot.pause()

        assert snap_compare(make_app(service), run_before=open_keys_panel)
