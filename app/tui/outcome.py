"""What a login screen is given, and what it reports when it is dismissed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from app.providers import Method
    from app.service import AuthService, LoginResult

# Where the app opens: the status panel, the provider list (or a provider's login), the logout.
Start = Literal["status", "login", "logout"]


class LoginRequest(NamedTuple):
    """One login to run: the provider, the method, the answers to its questions, the title."""

    service: AuthService
    provider_id: str
    method: Method
    title: str
    answers: dict[str, str]


class LoginDone(NamedTuple):
    """The login succeeded: the result and any lines the flow reported (e.g. models enabled)."""

    result: LoginResult
    details: tuple[str, ...] = ()


class SwitchMethod(NamedTuple):
    """The user asked for another login method of the same provider."""

    method_id: str


Outcome = LoginDone | SwitchMethod | None
