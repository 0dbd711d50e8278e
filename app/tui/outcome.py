"""What a login screen is given and reports (from :mod:`app.login`), and where the app opens."""

from __future__ import annotations

from typing import Literal

from app.login import LoginDone, LoginRequest, Outcome, SwitchMethod

__all__ = ["LoginDone", "LoginRequest", "Outcome", "Start", "SwitchMethod"]

# Where the app opens: the status panel, the provider list (or a provider's login), the logout.
Start = Literal["status", "login", "logout"]
