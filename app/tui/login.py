"""The one place that sequences a login: questions → method → the flow's screen → done.

Screens report what happened (``dismiss``); this decides what comes next, so no screen
knows another. Everything shown comes from the registry and from what the flow reports.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from app import providers
from app.errors import PiTuiError
from app.tui.outcome import LoginDone, LoginRequest, SwitchMethod

if TYPE_CHECKING:
    from app.tui.app import PiTuiApp


async def run_login(app: PiTuiApp, provider_id: str) -> None:
    """Run ``provider_id``'s login on ``app``'s screen stack (call it from a worker)."""
    from app.tui.screens.auth_code_login import AuthCodeScreen
    from app.tui.screens.device_code import DeviceCodeScreen
    from app.tui.screens.login_done import LoginDoneScreen
    from app.tui.screens.method_choice import MethodChoiceScreen
    from app.tui.screens.question import QuestionScreen

    service = app.service
    info = providers.provider(provider_id)
    title = f"Log in to {info.name}"
    answers: dict[str, str] = {}
    for question in info.questions:
        check = functools.partial(service.check_answer, provider_id, question.id)
        answer = await app.push_screen_wait(QuestionScreen(title, question, check))
        if answer is None:
            return
        answers[question.id] = answer
    method = service.default_method(provider_id)
    # Logins found on this machine are offered beside the flows, never taken unasked.
    offers = service.offers(provider_id, answers)
    why = "(No browser can open here, so the default is the headless way.)" if method.headless else ""
    if offers:
        why = "Found on this machine: a saved login, listed above. It is used only if you choose it."
    refused = False  # after a refused offer the choice stays up, to say why
    while len(info.methods) + len(offers) > 1 or refused:
        methods = (*info.methods, *offers)
        chosen = await app.push_screen_wait(
            MethodChoiceScreen(info.name, methods, default=method.id, why=why)
        )
        if chosen is None:
            return
        offer = next((o for o in offers if o.id == chosen), None)
        if offer is None:
            method = info.method(chosen)
            break
        app.notify("Checking the saved login…", timeout=3)
        try:
            result, details = await service.use_offer(provider_id, offer.id)
        except PiTuiError as exc:
            # Refused, or the store cannot take it: nothing was saved; the flows are still there.
            offers = [o for o in offers if o.id != offer.id]
            why, refused = str(exc), True
            continue
        app.status_screen.select(provider_id)  # back on the panel, the login just made is shown
        app.push_screen(LoginDoneScreen(result, details=details))
        return
    while True:
        request = LoginRequest(service, provider_id, method, title, answers)
        if method.kind == providers.AUTH_CODE:
            other = next((m for m in info.methods if m.id != method.id and m.kind == method.kind), None)
            screen: AuthCodeScreen | DeviceCodeScreen = AuthCodeScreen(request, other=other)
        else:
            screen = DeviceCodeScreen(request)
        outcome = await app.push_screen_wait(screen)
        if isinstance(outcome, SwitchMethod):
            method = info.method(outcome.method_id)
            continue
        if isinstance(outcome, LoginDone):
            app.status_screen.select(provider_id)  # back on the panel, the login just made is shown
            app.push_screen(LoginDoneScreen(outcome.result, details=outcome.details))
        return
