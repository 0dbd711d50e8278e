"""The one login sequence: replace? → questions → method → the flow → done.

It talks to the user only through a :class:`Prompter` (gh's ``Login(opts)`` with a Prompter):
the full-screen app and ``login --no-tui`` are two Prompters, not two sequences. It names no
provider; everything it shows comes from the registry and from what the flow reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from app.errors import Cancelled, ConfigError, PiTuiError
from app.providers import OFFER, Method, ProviderInfo, Question

if TYPE_CHECKING:
    from app.service import AuthService, LoginResult


class LoginDone(NamedTuple):
    """The login succeeded: the result and any lines the flow reported (e.g. models enabled)."""

    result: LoginResult
    details: tuple[str, ...] = ()


class SwitchMethod(NamedTuple):
    """The user asked for another login method of the same provider."""

    method_id: str


class LoginRequest(NamedTuple):
    """One flow to run: the provider, the method, the answers to its questions, the title."""

    service: AuthService
    provider_id: str
    method: Method
    title: str
    answers: dict[str, str]


Outcome = LoginDone | SwitchMethod | None


class Prompter(Protocol):
    """How the sequence talks to the user. ``None`` from a step means the user backed out."""

    async def confirm(self, question: str) -> bool:
        """Yes or no (no by default)."""
        ...

    async def answer(self, title: str, question: Question, check: Callable[[str], str]) -> str | None:
        """One of the provider's questions, asked until ``check`` passes (it raises a sentence)."""
        ...

    async def choose(
        self, info: ProviderInfo, methods: tuple[Method, ...], default: Method, why: str
    ) -> str | None:
        """A method id of ``methods`` (``default`` pre-selected; ``why`` explains the choice)."""
        ...

    async def run_flow(self, request: LoginRequest, other: Method | None) -> Outcome:
        """Run one flow (show the link or the code, wait for the paste or the approval);
        ``other`` is the method the user may switch to from it."""
        ...

    async def notice(self, text: str) -> None:
        """A passing line (e.g. "Checking the saved login…", or why an offer was refused)."""
        ...


def replace_question(service: AuthService, provider_id: str) -> str | None:
    """The question to ask before replacing a stored login, or None when there is none."""
    info = service.info(provider_id)
    existing = service.existing_login(provider_id)
    if existing is None:
        return None
    kind, account = existing
    if kind != "oauth":
        return f"{service.store.path.name} holds an API key for {info.name}. Replace it with a login?"
    whose = account or "an account pi-tui cannot name"
    return f"You are logged in to {info.name} as {whose}. Replace that login?"


async def run_login(
    service: AuthService,
    prompter: Prompter,
    provider_id: str,
    *,
    method_id: str | None = None,
    replace: bool = False,
) -> LoginDone | None:
    """Log in to ``provider_id`` through ``prompter``; None when the user backed out.

    ``replace``: replace a stored login without asking (``--yes``). ``method_id``: run that
    method (or a login found on this machine) instead of asking.
    """
    info = service.info(provider_id)
    title = f"Log in to {info.name}"
    question = None if replace else replace_question(service, provider_id)
    if question is not None and not await prompter.confirm(question):
        raise Cancelled("Cancelled; the existing login was kept.")
    answers: dict[str, str] = {}
    for asked in info.questions:

        def check(text: str, asked: Question = asked) -> str:
            return service.check_answer(provider_id, asked.id, text)

        answer = await prompter.answer(title, asked, check)
        if answer is None:
            return None
        answers[asked.id] = answer
    offers = service.offers(provider_id, answers)
    method = named_method(info, offers, method_id) if method_id else service.default_method(provider_id)
    if not method_id:
        chosen = await _choose(service, prompter, info, offers, method)
        if chosen is None or isinstance(chosen, LoginDone):
            return chosen
        method = chosen
    elif method.kind == OFFER:
        await prompter.notice(f"Checking it with the server: {method.label}…")
        result, details = await service.use_offer(provider_id, method.id)
        return LoginDone(result, details)
    while True:
        other = next((m for m in info.methods if m.id != method.id and m.kind == method.kind), None)
        outcome = await prompter.run_flow(LoginRequest(service, provider_id, method, title, answers), other)
        if isinstance(outcome, SwitchMethod):
            method = info.method(outcome.method_id)
            continue
        return outcome


async def _choose(
    service: AuthService, prompter: Prompter, info: ProviderInfo, offers: list[Method], default: Method
) -> Method | LoginDone | None:
    """The method the user picks (a login found here is used at once, once its server accepts it)."""
    why = "(No browser can open here, so the default is the headless way.)" if default.headless else ""
    if offers:
        why = "Found on this machine: a saved login, listed above. It is used only if you choose it."
    refused = False  # after a refused offer the choice stays up, to say why
    while len(info.methods) + len(offers) > 1 or refused:
        chosen = await prompter.choose(info, (*info.methods, *offers), default, why)
        if chosen is None:
            return None
        offer = next((o for o in offers if o.id == chosen), None)
        if offer is None:
            return info.method(chosen)
        await prompter.notice(f"Checking it with the server: {offer.label}…")
        try:
            result, details = await service.use_offer(info.id, offer.id)
        except (Cancelled, ConfigError):
            raise
        except PiTuiError as exc:
            # Refused, or the store cannot take it: nothing was saved; the flows are still there.
            offers = [o for o in offers if o.id != offer.id]
            why, refused = str(exc), True
            await prompter.notice(why)
            continue
        return LoginDone(result, details)
    return default


def named_method(info: ProviderInfo, offers: list[Method], method_id: str) -> Method:
    """``--method``: one of the provider's methods or one of the logins found here."""
    for method in (*info.methods, *offers):
        if method.id == method_id:
            return method
    known = ", ".join(m.id for m in (*info.methods, *offers))
    raise ConfigError(f"{info.name} has no login method {method_id!r}; choose one of: {known}.")
