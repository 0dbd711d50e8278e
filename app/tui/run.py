"""Start the full-screen app from the command line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from app.logs import setup_logging
from app.service import AuthService
from app.tui.app import PiTuiApp
from app.tui.terminal import TerminalDriver

if TYPE_CHECKING:
    from app.store import CredentialStore
    from app.tui.outcome import Start


def run_app(
    store: CredentialStore,
    *,
    env: Mapping[str, str],
    start: Start = "status",
    provider: str | None = None,
    on_first_frame: Callable[[], None] | None = None,
) -> int:
    """Run PiTuiApp over ``store`` until the user quits; returns the exit code.

    The app decides it from what its screens reported: started to log in, 0 only when a login
    was made for the provider asked for (any provider when none was named), 5 (cancelled)
    otherwise, so ``pi-tui login x && …`` can be scripted; started to log out, the answer to its
    question. An unexpected error ends the app with a non-zero code (the app prints its sentence).
    """
    try:
        log_path = setup_logging(env)
    except OSError:
        log_path = None  # no writable log directory: run without a log (help says so)
    service = AuthService(store, env=env)
    app = PiTuiApp(
        service,
        start=start,
        provider=provider,
        log_path=log_path,
        driver_class=TerminalDriver,
        on_first_frame=on_first_frame,
    )
    app.run()
    # None when the app never exited by itself: what quitting at that point would have said.
    return app.return_code if app.return_code is not None else app.quit_code()
