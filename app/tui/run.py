"""Start the full-screen app from the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.logs import setup_logging
from app.service import AuthService

if TYPE_CHECKING:
    from app.cli import Start
    from app.store import CredentialStore


def run_app(
    store: CredentialStore,
    *,
    env: Mapping[str, str],
    start: Start = "status",
    provider: str | None = None,
) -> int:
    """Run PiTuiApp over ``store`` until the user quits; returns the exit code."""
    from app.tui.app import PiTuiApp

    try:
        log_path = setup_logging(env)
    except OSError:
        log_path = None  # no writable log directory: run without a log (help says so)
    service = AuthService(store, env=env)
    PiTuiApp(service, start=start, provider=provider, log_path=log_path).run()
    return 0
