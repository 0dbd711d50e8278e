"""What a login screen reports when it is dismissed."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from app.service import LoginResult


class LoginDone(NamedTuple):
    """The login succeeded: the result and any lines the flow reported (e.g. models enabled)."""

    result: LoginResult
    details: tuple[str, ...] = ()


class SwitchMethod(NamedTuple):
    """The user asked for another login method of the same provider."""

    method_id: str


Outcome = LoginDone | SwitchMethod | None
