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
    from app.flows.auth_code import AuthCodeLogin
    from app.flows.device import DeviceLogin
    from app.service import AuthService, LoginResult

REPLACE = "replace"
ADD = "add"


class LoginDone(NamedTuple):
    """The login succeeded: the result and any lines the flow reported (e.g. models enabled)."""

    result: LoginResult
    details: tuple[str, ...] = ()


class SwitchMethod(NamedTuple):
    """The user asked for another login method of the same provider."""

    method_id: str


class LoginRequest(NamedTuple):
    """One flow to run: the provider, the method, the answers to its questions, the title, and
    how its login is saved (``add``: as another account, keeping the one stored; ``label``)."""

    service: AuthService
    provider_id: str
    method: Method
    title: str
    answers: dict[str, str]
    add: bool = False
    label: str | None = None

    async def start(self) -> AuthCodeLogin[LoginResult] | DeviceLogin[LoginResult]:
        """Start this flow (:meth:`AuthService.start_login`), saving the way it was asked."""
        return await self.service.start_login(
            self.provider_id, self.method.id, self.answers, add=self.add, label=self.label
        )


Outcome = LoginDone | SwitchMethod | None


class Prompter(Protocol):
    """How the sequence talks to the user. ``None`` from a step means the user backed out."""

    async def decide(self, question: str, answers: tuple[tuple[str, str], ...]) -> str | None:
        """One of ``answers`` (``(id, label)``, the safe one last) by its id; None to back out."""
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


def existing_question(
    service: AuthService, provider_id: str
) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """What to ask before a login over a stored one, and its answers; None when none is stored.

    An OAuth login can be replaced or kept beside the new one as another account; an API key
    entry can only be replaced.
    """
    info = service.info(provider_id)
    existing = service.existing_login(provider_id)
    if existing is None:
        return None
    kind, account = existing
    if kind != "oauth":
        question = f"{service.store.path.name} holds an API key for {info.name}. Replace it with a login?"
        return question, ((REPLACE, "Replace"),)
    whose = account or "an account pi-tui cannot name"
    question = (
        f"You are logged in to {info.name} as {whose}. "
        "Replace that login, or add the new one as another account?"
    )
    return question, ((REPLACE, "Replace"), (ADD, "Add another account"))


async def run_login(
    service: AuthService,
    prompter: Prompter,
    provider_id: str,
    *,
    method_id: str | None = None,
    mode: str | None = None,
    label: str | None = None,
) -> LoginDone | None:
    """Log in to ``provider_id`` through ``prompter``; None when the user backed out.

    ``mode``: :data:`REPLACE` or :data:`ADD` a stored login without asking (``--replace``,
    ``--add``); ``label`` names the new account. ``method_id``: run that method (or a login
    found on this machine) instead of asking.
    """
    info = service.info(provider_id)
    title = f"Log in to {info.name}"
    existing = existing_question(service, provider_id)
    if existing is not None and mode is None:
        mode = await prompter.decide(*existing)
        if mode is None:
            raise Cancelled("Cancelled; the existing login was kept.")
    add = existing is not None and mode == ADD
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
        chosen = await _choose(service, prompter, info, offers, method, add=add, label=label)
        if chosen is None or isinstance(chosen, LoginDone):
            return chosen
        method = chosen
    elif method.kind == OFFER:
        await prompter.notice(f"Checking it with the server: {method.label}…")
        result, details = await service.use_offer(provider_id, method.id, add=add, label=label)
        return LoginDone(result, details)
    while True:
        other = next((m for m in info.methods if m.id != method.id and m.kind == method.kind), None)
        request = LoginRequest(service, provider_id, method, title, answers, add=add, label=label)
        outcome = await prompter.run_flow(request, other)
        if isinstance(outcome, SwitchMethod):
            method = info.method(outcome.method_id)
            continue
        return outcome


async def _choose(
    service: AuthService,
    prompter: Prompter,
    info: ProviderInfo,
    offers: list[Method],
    default: Method,
    *,
    add: bool,
    label: str | None,
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
            result, details = await service.use_offer(info.id, offer.id, add=add, label=label)
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
