"""Screenshots of pi-tui's main screens, from the real app over a made-up state.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Writes one SVG per screen (80×24) and, when ``rsvg-convert`` is installed, a PNG beside it.
The store holds recognisable fake tokens (``…FAKE…``), shown masked like any other; no
request leaves the machine, no clipboard is touched, no browser is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from app import providers  # noqa: E402
from app.flows.auth_code import AuthCodeLogin  # noqa: E402
from app.flows.device import DeviceCode, DeviceLogin  # noqa: E402
from app.providers.github_copilot import device_flow_error  # noqa: E402
from app.service import AuthService, LoginResult  # noqa: E402
from app.store import CredentialStore  # noqa: E402
from app.tui.app import PiTuiApp  # noqa: E402
from tests.tui.doubles import FakeClipboard, FakeClock, FakeOpener  # noqa: E402
from tests.tui.helpers import (  # noqa: E402
    FIXED_PKCE,
    HOUR_MS,
    PollEvent,
    choose_method,
    fixed_anthropic_login,
    scripted_copilot,
    seed_fake_anthropic,
    seed_fake_copilot,
    wait_until,
)

AGENT = Path("/tmp/pi-tui-screenshots/.pi/agent")
Drive = Callable[[Any], Awaitable[None]]
USER_CODE = "WDJB-MJHT"
# Where each device-flow provider sends the user, as its server answers (page, page with the code).
DEVICE_PAGES = {
    "openai-codex": ("https://auth.openai.com/codex/device", ""),
    "xai": ("https://accounts.x.ai/device", f"https://accounts.x.ai/device?user_code={USER_CODE}"),
    "kimi-coding": (
        "https://www.kimi.com/code/authorize_device",
        f"https://www.kimi.com/code/authorize_device?user_code={USER_CODE}",
    ),
    "meta": ("https://www.meta.com/device", f"https://www.meta.com/device?user_code={USER_CODE}"),
}
# The five newer providers' logins, with recognisable fake tokens (…FAKE…) like the other two.
FAKE_NEW: dict[str, dict[str, Any]] = {
    "openai-codex": {
        "access": "eyJhbGciOiJSUzI1NiJ9.FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE.e5f6",
        "refresh": "rt_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEa7b8",
        "accountId": "acct_FAKE0f3c9a2b",
        "minutes": 9 * 24 * 60,
    },
    "xai": {
        "access": "xai-at-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE9c0d",
        "refresh": "xai-rt-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE1e2f",
        "minutes": 47,
    },
    "kimi-coding": {
        "access": "kimi-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE3a4b",
        "refresh": "kimi-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE5c6d",
        "minutes": 12,
    },
    "openrouter": {
        "access": "sk-or-v1-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE7e8f",
        "refresh": "",
        "expires": 9_007_199_254_740_991,
    },
    "meta": {
        "access": "muse-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE9a0b",
        "refresh": "FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEidentity",
        "minutes": 23 * 60 + 5,
    },
}
# OpenRouter's callback path is random per login; a fixed one keeps the screenshot stable.
OPENROUTER_PATH = "/oauth/callback/0b7e4c1a-5d2f-4e8b-9a61-3c2d7f90e5b4"


def fresh_service(*, logged_in: bool, everyone: bool = False) -> AuthService:
    """A service over a new store at a fixed path, with a fixed clock and no network.

    ``logged_in``: Anthropic and GitHub Copilot; ``everyone``: every provider in the registry.
    """
    shutil.rmtree(AGENT.parent.parent, ignore_errors=True)
    # auth.json: the file pi 1.x reads, and the one pi-tui creates in a fresh agent directory.
    store = CredentialStore(AGENT / "auth.json")
    clock = FakeClock()
    if logged_in or everyone:
        seed_fake_anthropic(store, expires=clock.ms() + 7 * HOUR_MS + 42 * 60_000)
        seed_fake_copilot(store, expires=clock.ms() + 24 * 60_000)
    if everyone:
        for provider_id, fake in FAKE_NEW.items():
            if provider_id in providers.PROVIDERS:
                entry = {k: v for k, v in fake.items() if k != "minutes"}
                expires = entry.pop("expires", clock.ms() + int(fake.get("minutes", 0)) * 60_000)
                store.put(provider_id, {"type": "oauth", "expires": expires, **entry})
    service = AuthService(store, env={}, clock=clock)
    service.start_login = fixed_anthropic_login(service)  # type: ignore[method-assign]
    service.start_login = still_logins(service)  # type: ignore[method-assign]
    return service


class StillListener:
    """Stands in for the loopback listener: on ``port``, never receives anything."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def wait(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


def still_logins(service: AuthService) -> Callable[..., Any]:
    """A ``start_login`` whose new-provider logins are the real flows, frozen where they start.

    The provider module's own spec (real endpoints, texts, title); fixed PKCE, a listener that
    never fires, a fixed device code, and a poll that never answers: nothing leaves the machine.
    Anthropic and GitHub Copilot go to the ``start_login`` set before.
    """
    real = service.start_login

    async def start(provider_id: str, method_id: str | None = None, answers: Any = None) -> Any:
        if provider_id in ("anthropic", "github-copilot"):
            return await real(provider_id, method_id, answers)
        info = providers.provider(provider_id)
        method = info.method(method_id) if method_id else service.default_method(provider_id)
        spec = providers.load(provider_id).login(
            method.id, service.endpoints(provider_id), dict(answers or {})
        )

        async def finish(entry: dict[str, Any]) -> LoginResult:
            return await service.save_login(provider_id, entry)

        if method.kind == providers.AUTH_CODE:
            if provider_id == "openrouter":
                spec = spec._replace(path=OPENROUTER_PATH)
            port = spec.port or spec.default_port or 43117
            redirect = spec.fixed_redirect or f"http://{spec.redirect_host}:{port}{spec.path}"
            login: Any = AuthCodeLogin(
                spec, FIXED_PKCE, redirect, client=service.client, now_ms=service.now_ms, finish=finish
            )
            if spec.fixed_redirect is None:
                login.listener = StillListener(port)
            return login
        page, complete = DEVICE_PAGES[provider_id]
        code = DeviceCode("fixed-device-code", USER_CODE, page, 900.0, 5.0, True, complete)

        async def request_code(client: Any) -> DeviceCode:
            return code

        async def poll(client: Any, code: DeviceCode) -> Any:
            await asyncio.Event().wait()

        spec = spec._replace(request_code=request_code, poll=poll)
        return await DeviceLogin.start(spec, client=service.client, now_ms=service.now_ms, finish=finish)

    return start


async def shoot(name: str, service: AuthService, drive: Drive, out: Path, **app_args: Any) -> Path:
    """Run the app, let ``drive`` bring it to the screen, save the SVG."""
    app = PiTuiApp(service, clipboard=FakeClipboard(), opener=FakeOpener(), cursor_blink=False, **app_args)
    async with app.run_test(size=(80, 24)) as pilot:
        await drive(pilot)
        await pilot.pause()
        path = out / f"{name}.svg"
        app.save_screenshot(path.name, str(out))
    return path


async def nothing(pilot: Any) -> None:
    await pilot.pause()


def screen_is(pilot: Any, name: str) -> Callable[[], bool]:
    return lambda: type(pilot.app.screen).__name__ == name


async def method_choice(pilot: Any) -> None:
    await wait_until(pilot, screen_is(pilot, "MethodChoiceScreen"))


async def anthropic_method(pilot: Any, method: str) -> None:
    await choose_method(pilot, method)
    await wait_until(pilot, screen_is(pilot, "AuthCodeScreen"))
    await wait_until(pilot, lambda: str(pilot.app.screen.query_one("#link-status").content))


async def anthropic_waiting(pilot: Any) -> None:
    await anthropic_method(pilot, "browser")


async def anthropic_copy_code(pilot: Any) -> None:
    await anthropic_method(pilot, "copy_code")


async def anthropic_rejected(pilot: Any) -> None:
    await anthropic_waiting(pilot)
    pilot.app.post_message(
        events.Paste("https://console.anthropic.com/oauth/code/callback?error=access_denied")
    )
    await wait_until(pilot, lambda: "-failure" in pilot.app.screen.query_one("#feedback").classes)


async def login_done(pilot: Any) -> None:
    from app.tui.screens.login_done import LoginDoneScreen

    service = pilot.app.service
    result = LoginResult("anthropic", "Anthropic (Claude Pro/Max)", service.store.path, "ada@example.com")
    await pilot.app.push_screen(LoginDoneScreen(result))


async def device_code(pilot: Any) -> None:
    scripted_copilot(pilot.app.service, [PollEvent("waiting", polls=1), PollEvent("waiting", polls=2)])
    await pilot.press("enter")
    await wait_until(pilot, lambda: "checked 2 times" in str(pilot.app.screen.query_one("#progress").content))


async def device_denied(pilot: Any) -> None:
    denied = device_flow_error("access_denied", "", status=200, domain="github.com")
    scripted_copilot(pilot.app.service, [PollEvent("waiting", polls=1), denied])
    await pilot.press("enter")
    await wait_until(pilot, lambda: pilot.app.screen.has_class("-failed"))


def new_login(method: str | None, kind: str) -> Drive:
    """Through the method choice (when ``method``) to the auth-code or device-code screen."""

    async def drive(pilot: Any) -> None:
        if method is not None:
            await choose_method(pilot, method)
        if kind == "device":
            await wait_until(pilot, screen_is(pilot, "DeviceCodeScreen"))
            await wait_until(pilot, lambda: pilot.app.screen.query_one("#user-code").display)
        else:
            await wait_until(pilot, screen_is(pilot, "AuthCodeScreen"))
            await wait_until(pilot, lambda: str(pilot.app.screen.query_one("#link-status").content))

    return drive


async def confirm_logout(pilot: Any) -> None:
    await pilot.press("o")  # asks about the selected provider at once
    await wait_until(pilot, screen_is(pilot, "ConfirmScreen"))


def login_at(provider_id: str) -> dict[str, Any]:
    """The app opened straight at ``provider_id``'s login."""
    return {"start": "login", "provider": provider_id}


SHOTS: list[tuple[str, bool | str, Drive, dict[str, Any]]] = [
    ("01-status-empty", False, nothing, {}),
    ("02-status-logged-in", True, nothing, {}),
    ("03-provider-select", True, nothing, {"start": "login"}),
    ("04-anthropic-login", False, anthropic_waiting, {"start": "login", "provider": "anthropic"}),
    ("05-anthropic-login-rejected", False, anthropic_rejected, {"start": "login", "provider": "anthropic"}),
    ("06-login-done", False, login_done, {}),
    ("12-anthropic-method-choice", False, method_choice, {"start": "login", "provider": "anthropic"}),
    ("13-anthropic-copy-code", False, anthropic_copy_code, {"start": "login", "provider": "anthropic"}),
    ("07-copilot-enterprise", False, nothing, {"start": "login", "provider": "github-copilot"}),
    ("08-copilot-device-code", False, device_code, {"start": "login", "provider": "github-copilot"}),
    ("09-copilot-denied", False, device_denied, {"start": "login", "provider": "github-copilot"}),
    ("10-logout-confirm", True, confirm_logout, {}),
    ("11-help", True, lambda pilot: pilot.press("question_mark"), {}),
    ("14-codex-browser", False, new_login("browser", "auth"), login_at("openai-codex")),
    ("15-codex-device", False, new_login("device_code", "device"), login_at("openai-codex")),
    ("16-xai-device", False, new_login(None, "device"), login_at("xai")),
    ("17-kimi-device", False, new_login(None, "device"), login_at("kimi-coding")),
    ("18-openrouter-login", False, new_login(None, "auth"), login_at("openrouter")),
    ("19-meta-device", False, new_login(None, "device"), login_at("meta")),
    ("20-status-all-logged-in", "everyone", nothing, {}),
]


def shown_secrets(svg: Path) -> list[str]:
    """The seeded tokens of which ``svg`` shows more than a masked token does (none, we hope)."""
    import html
    import re

    from tests.tui.helpers import FAKE_ANTHROPIC, FAKE_COPILOT

    # Every character the picture shows, in order, without markup or spacing (a token split
    # over spans or lines still counts).
    text = "".join(html.unescape(re.sub(r"<[^>]+>", "", svg.read_text())).split())
    found = []
    for tokens in (FAKE_ANTHROPIC, FAKE_COPILOT, *FAKE_NEW.values()):
        for secret in (tokens["access"], tokens["refresh"]):
            # Pieces of the token's secret part (public parts such as Copilot's proxy host may show).
            pieces = [secret[i : i + 16] for i in range(len(secret) - 15)]
            if any(piece in text for piece in pieces if "FAKE" in piece):
                found.append(secret[:12] + "…")
    return found


def to_png(svg: Path) -> Path | None:
    """A PNG beside ``svg`` if rsvg-convert is installed."""
    if shutil.which("rsvg-convert") is None:
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
    return png


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # A made-up home: paths show as ~/.pi/agent/…, and pi-tui's state file (account names, a
    # token's life) goes there rather than into the real user's state directory.
    os.environ["HOME"] = str(AGENT.parent.parent)
    os.environ["PI_TUI_STATE_DIR"] = str(AGENT.parent.parent / ".local" / "state" / "pi-tui")
    for name, logged_in, drive, app_args in SHOTS:
        if app_args.get("provider", "anthropic") not in providers.PROVIDERS:
            print(f"{name}: skipped ({app_args['provider']} is not in the registry yet)")
            continue
        service = fresh_service(logged_in=logged_in is True, everyone=logged_in == "everyone")
        svg = await shoot(name, service, drive, out, **app_args)
        unmasked = shown_secrets(svg)
        if unmasked:
            raise SystemExit(f"{svg.name} shows an unmasked token: {', '.join(unmasked)}")
        png = to_png(svg)
        print(svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg, "+ png" if png else "")
    shutil.rmtree(AGENT.parent.parent, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    asyncio.run(main(parser.parse_args().out.resolve()))
