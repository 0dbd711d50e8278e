"""Screenshots of pi-tui's main screens, from the real app over a made-up state.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Writes one SVG per screen (80×24) and, when ``rsvg-convert`` is installed, a PNG beside it.
The store holds recognisable fake tokens (``…FAKE…``), shown masked like any other; no
request leaves the machine, no clipboard is touched, no browser is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from app.providers.github_copilot import device_flow_error  # noqa: E402
from app.service import AuthService, LoginResult  # noqa: E402
from app.store import CredentialStore  # noqa: E402
from app.tui.app import PiTuiApp  # noqa: E402
from tests.tui.doubles import FakeClipboard, FakeClock, FakeOpener  # noqa: E402
from tests.tui.helpers import (  # noqa: E402
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


def fresh_service(*, logged_in: bool) -> AuthService:
    """A service over a new store at a fixed path, with a fixed clock and no network."""
    shutil.rmtree(AGENT.parent.parent, ignore_errors=True)
    store = CredentialStore(AGENT / "oauth.json")
    clock = FakeClock()
    if logged_in:
        seed_fake_anthropic(store, expires=clock.ms() + 7 * HOUR_MS + 42 * 60_000)
        seed_fake_copilot(store, expires=clock.ms() + 24 * 60_000)
    service = AuthService(store, env={}, clock=clock)
    service.start_login = fixed_anthropic_login(service)  # type: ignore[method-assign]
    return service


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


async def confirm_logout(pilot: Any) -> None:
    await pilot.press("o")  # asks about the selected provider at once
    await wait_until(pilot, screen_is(pilot, "ConfirmScreen"))


SHOTS: list[tuple[str, bool, Drive, dict[str, Any]]] = [
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
]


def to_png(svg: Path) -> Path | None:
    """A PNG beside ``svg`` if rsvg-convert is installed."""
    if shutil.which("rsvg-convert") is None:
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
    return png


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, logged_in, drive, app_args in SHOTS:
        svg = await shoot(name, fresh_service(logged_in=logged_in), drive, out, **app_args)
        png = to_png(svg)
        print(svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg, "+ png" if png else "")
    shutil.rmtree(AGENT.parent.parent, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    asyncio.run(main(parser.parse_args().out.resolve()))
