"""The exceptions pi-tui raises. Every message is a sentence a user can act on.

Nothing here ever holds a secret: messages are built from masked values only.
"""

from __future__ import annotations


class PiTuiError(Exception):
    """Base class: ``str(error)`` is the sentence to show the user."""

    exit_code = 1


class Cancelled(PiTuiError):
    """The user said no, pressed Esc, Ctrl-C or Ctrl-D at a question; nothing was changed.

    Its own exit code (5), so a script can tell "the user stopped it" from "not logged in" (1).
    """

    exit_code = 5


class ConfigError(PiTuiError):
    """The environment or the command line asks for something invalid."""

    exit_code = 2


class StoreError(PiTuiError):
    """The credential store cannot be used as it is."""

    exit_code = 3


class StoreUnsafe(StoreError):
    """The store is a symlink, not a regular file, someone else's, or readable by others."""


class StoreCorrupt(StoreError):
    """The store exists but cannot be parsed; it is kept as it is."""


class StoreLockTimeout(StoreError):
    """Another process held the store lock for longer than we are willing to wait."""


class StoreLockLost(StoreError):
    """Another process took the store's lock over while pi-tui held it; nothing was written."""


class StoreWriteError(StoreError):
    """Writing the store failed (disk full, I/O error, read-only directory); the old file is intact."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class AuthError(PiTuiError):
    """A login, refresh or API call did not succeed."""

    exit_code = 4


class LoginInputError(AuthError):
    """What the user pasted cannot be used; the login can be retried."""


class NotLoggedIn(AuthError):
    """No credential exists for the provider."""

    exit_code = 1


class RefreshError(AuthError):
    """A refresh failed. ``revoked`` is True only when the server says the login is dead."""

    def __init__(self, message: str, *, revoked: bool = False) -> None:
        super().__init__(message)
        self.revoked = revoked


class NetworkError(AuthError):
    """The provider could not be reached or answered with something unusable.

    ``status`` is the HTTP status when the server did answer (429, 5xx, a body that is not
    JSON), None when it was not reached at all; a provider that retries decides by it.
    ``dropped`` is True when the connection failed before any answer (refused, reset, closed),
    as opposed to a server that was too slow: asking again at once is cheap then.
    """

    def __init__(self, message: str, *, status: int | None = None, dropped: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.dropped = dropped


class DeviceFlowError(AuthError):
    """The device flow stopped: expired, denied, disabled, or an unknown error."""


class LoginCancelled(AuthError):
    """The user cancelled a login."""

    exit_code = Cancelled.exit_code
