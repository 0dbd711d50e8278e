"""The app's Prompter for the one login sequence (:mod:`app.login`): each step is a screen.

Screens report what happened (``dismiss``); :func:`app.login.run_login` decides what comes
next, so no screen knows another, and the app asks exactly what ``login --no-tui`` asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.errors import Cancelled
from app.login import LoginDone, LoginRequest, Outcome, run_login
from app.providers import AUTH_CODE, Method, ProviderInfo, Question
from app.tui.screens.auth_code_login import AuthCodeScreen
from app.tui.screens.confirm import ChoiceScreen
from app.tui.screens.device_code import DeviceCodeScreen
from app.tui.screens.login_done import LoginDoneScreen
from app.tui.screens.method_choice import MethodChoiceScreen
from app.tui.screens.question import QuestionScreen

if TYPE_CHECKING:
    from app.tui.app import PiTuiApp


class ScreenPrompter:
    """Asks through the app's screens (pushed and awaited from a worker)."""

    def __init__(self, app: PiTuiApp) -> None:
        self.app = app

    async def decide(self, question: str, answers: tuple[tuple[str, str], ...]) -> str | None:
        """A dialog with a button (and a key: the label's first letter) per answer; Esc backs out."""
        keyed = tuple((answer_id, label, label[0].lower()) for answer_id, label in answers)
        chosen: str | None = await self.app.push_screen_wait(ChoiceScreen(question, keyed))
        return chosen

    async def answer(self, title: str, question: Question, check: Callable[[str], str]) -> str | None:
        """The question screen; it shows ``check``'s sentence and asks again."""
        return await self.app.push_screen_wait(QuestionScreen(title, question, check))

    async def choose(
        self, info: ProviderInfo, methods: tuple[Method, ...], default: Method, why: str
    ) -> str | None:
        """The method choice screen."""
        return await self.app.push_screen_wait(
            MethodChoiceScreen(info.name, methods, default=default.id, why=why)
        )

    async def run_flow(self, request: LoginRequest, other: Method | None) -> Outcome:
        """The flow's screen: the link and the paste, or the device code and its countdown."""
        if request.method.kind == AUTH_CODE:
            screen: AuthCodeScreen | DeviceCodeScreen = AuthCodeScreen(request, other=other)
        else:
            screen = DeviceCodeScreen(request)
        return await self.app.push_screen_wait(screen)

    async def notice(self, text: str) -> None:
        """A toast."""
        self.app.notify(text, timeout=3)


async def login_in_app(app: PiTuiApp, provider_id: str, *, mode: str | None = None) -> LoginDone | None:
    """Run ``provider_id``'s login on ``app``'s screen stack (call it from a worker); the login
    just made is selected on the panel and its "Logged in" screen shown."""
    try:
        done = await run_login(app.service, ScreenPrompter(app), provider_id, mode=mode)
    except Cancelled as exc:
        app.notify(str(exc), timeout=4)
        return None
    if done is not None:
        app.status_screen.select(provider_id)  # back on the panel, the login just made is shown
        app.push_screen(LoginDoneScreen(done.result, details=done.details))
    return done
