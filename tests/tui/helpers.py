"""Helpers for the TUI tests: waiting on the app, reading the screen, scripted Copilot logins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from app.flows.auth_code import AuthCodeLogin
from app.flows.pkce import Pkce
from app.service import AuthService, LoginResult
from app.store import CredentialStore

HOUR_MS = 3_600_000

# Recognisable fake tokens for screens that show a login (masked on screen, like real ones).
FAKE_ANTHROPIC = {
    "access": "sk-ant-oat01-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEa1b2",
    "refresh": "sk-ant-ort01-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEc3d4",
}
FAKE_COPILOT = {
    "access": (
        "tid=FAKEFAKEFAKE;exp=1795782600;sku=copilot_individual;"
        "proxy-ep=proxy.individual.githubcopilot.com;8f9e"
    ),
    "refresh": "ghu_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE5e6f",
}


def screen_text(app: App[Any]) -> str:
    """Everything visible on the current screen, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def key_bar(app: App[Any]) -> str:
    """The key bar of the current screen, as shown on one long line."""
    return " ".join(str(line) for line in app.screen.query_one("KeyBar").lines(200))


def flat(app: App[Any]) -> str:
    """The text of every shown Static on the current screen, whitespace folded (wrapping undone)."""
    shown = (str(w.content) for w in app.screen.query(Static) if w.display and w.parent.display)
    return " ".join(" ".join(shown).split())


def card(app: App[Any], provider: str) -> str:
    """A provider's details as the status screen would show them, one ``label value`` per line."""
    from app.tui.widgets.account_text import detail_rows

    accounts = app.screen_stack[0].accounts  # type: ignore[attr-defined]
    status = next(s for s in accounts.statuses if s.provider == provider)
    return "\n".join(f"{row.label} {row.value}".strip() for row in detail_rows(status, accounts.now_ms))


async def wait_until(pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` is true; fail with the screen's text otherwise.

    Looks again after 20 ms, then a little later each time, up to every 100 ms: each look
    refreshes the screen, and a long wait (a slow answer, a poll interval) need not cost CPU."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out; screen was:\n{screen_text(pilot.app)}")
        await pilot.pause(delay)
        delay = min(delay * 1.5, 0.1)
    await pilot.pause()


async def wait_for_screen(pilot: Pilot[Any], name: str, timeout: float = 10.0) -> None:
    """Wait until the top screen's class is ``name``."""
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == name, timeout)


async def wait_for_text(pilot: Pilot[Any], text: str, timeout: float = 10.0) -> None:
    """Wait until ``text`` is on screen (line breaks folded)."""
    await wait_until(pilot, lambda: text in flat(pilot.app), timeout)


def read_doc(store: CredentialStore) -> dict[str, Any]:
    """The store file as JSON."""
    return json.loads(store.path.read_text())


def seed(
    store: CredentialStore, provider: str, tokens: dict[str, str], *, expires: int, **extra: Any
) -> None:
    """Write a stored login directly."""
    entry = {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": expires}
    entry.update(extra)
    store.put(provider, entry)


def seed_fake_anthropic(store: CredentialStore, *, expires: int) -> None:
    """Anthropic logged in as ada@example.com with the recognisable fake tokens."""
    seed(store, "anthropic", FAKE_ANTHROPIC, expires=expires, email="ada@example.com")


def seed_fake_copilot(store: CredentialStore, *, expires: int) -> None:
    """GitHub Copilot logged in as octocat with the recognisable fake tokens."""
    seed(store, "github-copilot", FAKE_COPILOT, expires=expires, login="octocat")


FIXED_PKCE = Pkce(
    verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    state="af0ifjsldkjXJ2Yfc1qxCtrs8t0Q2vB8ZkSmyJd4Ep0",
)


class IdleListener:
    """Stands in for the loopback listener in snapshots: never receives anything."""

    port = 53692

    async def wait(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


def fixed_anthropic_login(service: AuthService, *, listening: bool = True) -> Callable[..., Any]:
    """A ``start_login`` whose Anthropic logins always make the same link (real AuthCodeLogin, fixed PKCE).

    Other providers go to the real ``start_login``.
    """
    from app.providers import anthropic

    real = service.start_login

    async def start(
        provider_id: str, method_id: str | None = None, answers: Any = None, **saving: Any
    ) -> Any:
        if provider_id != "anthropic":
            return await real(provider_id, method_id, answers)
        method = method_id or service.default_method(provider_id).id
        spec = anthropic.login(method, service.endpoints("anthropic"), {})
        redirect = spec.fixed_redirect or anthropic.redirect_uri_for(53692)

        async def finish(entry: dict[str, Any]) -> LoginResult:
            return await service.save_login("anthropic", entry)

        login = AuthCodeLogin(
            spec, FIXED_PKCE, redirect, client=service.client, now_ms=service.now_ms, finish=finish
        )
        if listening and spec.fixed_redirect is None:
            login.listener = IdleListener()  # type: ignore[assignment]
        return login

    return start


async def choose_method(pilot: Pilot[Any], method_id: str) -> None:
    """On the method choice screen, choose ``method_id``."""
    from textual.widgets import OptionList

    await wait_for_screen(pilot, "MethodChoiceScreen")
    options = pilot.app.screen.query_one(OptionList)
    options.highlighted = options.get_option_index(method_id)
    await pilot.press("enter")


@dataclass
class PollEvent:
    """One event of a device-flow poll, as a device login yields them."""

    kind: str
    interval: float = 5
    polls: int = 0
    result: LoginResult | None = None


@dataclass
class ScriptedCopilotLogin:
    """A device login that yields a script of events (an exception ends it), then waits."""

    script: list[PollEvent | BaseException]
    user_code: str = "WDJB-MJHT"
    verification_uri: str = "https://github.com/login/device"
    expires_at_ms: int | None = 0
    interval: float = 5
    domain: str = "github.com"
    details: tuple[str, ...] = ()
    closed: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    kind: str = "device"
    server: str = "GitHub"

    @property
    def title(self) -> str:
        return f"Log in to GitHub Copilot ({self.domain})"

    @property
    def instructions(self) -> str:
        return f"Open {self.verification_uri} and enter this code:"

    @property
    def link(self) -> str:
        return self.verification_uri

    async def poll(self) -> Any:
        for item in self.script:
            if isinstance(item, BaseException):
                raise item
            yield item
        await self.release.wait()

    async def aclose(self) -> None:
        self.closed = True


def scripted_copilot(
    service: AuthService, script: list[PollEvent | BaseException], *, lifetime_ms: int = 15 * 60_000
) -> list[ScriptedCopilotLogin]:
    """Give ``service`` a ``start_login`` whose Copilot logins are scripted; returns them as made."""
    made: list[ScriptedCopilotLogin] = []
    real = service.start_login

    async def start(
        provider_id: str, method_id: str | None = None, answers: Any = None, **saving: Any
    ) -> Any:
        if provider_id != "github-copilot":
            return await real(provider_id, method_id, answers)
        host = (answers or {}).get("host") or "github.com"
        login = ScriptedCopilotLogin(list(script), expires_at_ms=service.now_ms() + lifetime_ms, domain=host)
        made.append(login)
        return login

    service.start_login = start  # type: ignore[method-assign]
    return made
