"""Start the full-screen app from the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app import providers
from app.errors import LoginCancelled, StoreError
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
    """Run PiTuiApp over ``store`` until the user quits; returns the exit code.

    Started to log in (or out), the app exits 0 only when a login was saved (or removed) for
    the provider asked for (any provider when none was named); otherwise the user cancelled,
    which has its own code, so ``pi-tui login x && …`` can be scripted. An unexpected error
    ends the app with a non-zero code (the app prints its sentence).
    """
    from app.tui.app import PiTuiApp

    try:
        log_path = setup_logging(env)
    except OSError:
        log_path = None  # no writable log directory: run without a log (help says so)
    service = AuthService(store, env=env)
    asked = [provider] if provider else list(providers.registry(store.path.parent, env))
    # Only a login or logout is judged by what it changed (read before the first frame: skipped
    # for the status panel, which judges nothing).
    before = _entries(store, asked) if start != "status" else {}
    app = PiTuiApp(service, start=start, provider=provider, log_path=log_path)
    app.run()
    if app.return_code:
        return app.return_code
    if start == "status":
        return 0
    after = _entries(store, asked)
    if start == "login":
        done = any(after[p] is not None and after[p] != before[p] for p in asked)
    else:
        done = any(before[p] is not None and after[p] is None for p in asked)
    return 0 if done else LoginCancelled.exit_code


def _entries(store: CredentialStore, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each provider's stored entry (in memory only, to compare before and after)."""
    found: dict[str, dict[str, Any] | None] = {}
    for provider_id in ids:
        try:
            found[provider_id] = store.entry(provider_id)  # either kind: an API key can be logged out of
        except StoreError:
            found[provider_id] = None
    return found
