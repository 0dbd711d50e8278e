"""The ``pi-tui`` command line (same conventions as ``gh auth``).

``status`` and ``token`` are on the hot path of scripts: they import neither Textual nor
httpx (nor asyncio) unless a refresh is due. The full-screen app is imported lazily.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from app import __version__
from app.errors import ConfigError, PiTuiError, StoreError

if TYPE_CHECKING:
    from app.providers import ProviderInfo
    from app.store import CredentialStore

Start = Literal["status", "login", "logout"]


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing shutil (and with it bz2, lzma, zlib).

    argparse builds a formatter for every ``add_argument``; on the ``pi-tui token`` path that
    import was a tenth of the run time.
    """

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 40))


def _provider_ids() -> str:
    from app.providers import PROVIDERS

    return " or ".join(PROVIDERS) if len(PROVIDERS) < 3 else ", ".join(PROVIDERS)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--agent-dir`` is accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument(
        "--agent-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="pi's agent directory (default: $PI_CODING_AGENT_DIR or ~/.pi/agent)",
    )
    parser = argparse.ArgumentParser(
        prog="pi-tui",
        description="Log in to AI subscriptions with OAuth for the pi coding agent.",
        parents=[common],
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"pi-tui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=summary, formatter_class=_Formatter)

    login = command("login", "open the app at the login flow")
    login.add_argument("provider", nargs="?", help=_provider_ids())
    logout = command("logout", "remove a stored login")
    logout.add_argument("provider", nargs="?", help=_provider_ids())
    logout.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    status = command("status", "show where each login stands")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    token = command("token", "print a valid access token")
    token.add_argument("provider", help=_provider_ids())
    command("migrate", "copy oauth.json's logins into auth.json (for pi 0.27 and later)")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``pi-tui`` script; returns the exit code."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    try:
        if any(name.startswith("PI_TUI_") for name in env):
            from app.endpoints import check_overrides

            check_overrides(env)  # a bad override is a start-up error, whatever the command
        handler = _COMMANDS.get(args.command or "", _run_app)
        return handler(args, env)
    except PiTuiError as exc:
        print(f"pi-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pi-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`pi-tui status | head`); don't let the final flush complain too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _interrupt(signum: int, frame: object) -> None:
    # asyncio.run turns SIGINT into a clean cancellation of the running task.
    signal.raise_signal(signal.SIGINT)


def _store(args: argparse.Namespace, env: Mapping[str, str]) -> CredentialStore:
    from app.store import CredentialStore

    return CredentialStore.for_agent_dir(getattr(args, "agent_dir", None), env)


def _provider(name: str | None) -> ProviderInfo:
    from app.providers import provider

    if name is None:
        raise ConfigError(f"Name a provider: {_provider_ids()}.")
    return provider(name.strip().lower())


def _cmd_token(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.credentials import ready_token, resolve
    from app.expiry import current_ms, is_due

    info = _provider(args.provider)
    store = _store(args, env)
    found = resolve(info, store, env, for_token=True)
    token = ready_token(info, found, now_ms=current_ms())
    if token is not None:
        print(token)
        return 0
    assert found.entry is not None  # only a stored login can be due
    # Due. Take the lock before paying for asyncio and httpx: when many processes ask at
    # once, all but one find the token the first one just refreshed and print it.
    # SIGTERM takes the Ctrl-C path, so a refresh answer in flight is still saved before exit.
    signal.signal(signal.SIGTERM, _interrupt)
    fresh: list[dict[str, Any]] = []

    def refreshed_by_another() -> bool:
        entry = store.get(info.id)
        if entry is not None and not is_due(entry, now_ms=current_ms()):
            fresh.append(entry)
        return bool(fresh)

    # While we wait for the lock, the file is re-read at every poll: if another process has
    # refreshed, its token is printed and the lock is never taken.
    with store.transaction(unless=refreshed_by_another) as tx:
        if tx.held:
            refreshed_by_another()  # it may have finished just before we got the lock
        if fresh:
            print(fresh[-1]["access"])
            return 0
        import asyncio

        from app.service import AuthService

        service = AuthService(store, env=env)
        refreshed = asyncio.run(service.refresh_locked(tx, info.id, seen=found.entry, force=False))
    print(refreshed["access"])
    return 0


def _cmd_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.credentials import State, all_statuses

    store = _store(args, env)
    from app.expiry import current_ms

    now_ms = current_ms()
    statuses = all_statuses(store, env, now_ms=now_ms)
    from app.store import migration_note, pending_migration

    pending = pending_migration(store)
    if args.json:
        doc = {
            "store": str(store.path),
            "format": store.kind,
            "providers": [s.to_json(now_ms=now_ms) for s in statuses],
            "migrate": None
            if pending is None
            else {
                "from": str(pending.source),
                "to": str(pending.target),
                "providers": list(pending.providers),
                "command": "pi-tui migrate",
            },
        }
        print(json.dumps(doc, indent=2))
    else:
        from app.timefmt import expiry

        print(f"Store: {store.path}")
        for s in statuses:
            line = f"{s.name}: {s.state.value}"
            if s.source:
                via = f"via {s.source}" + (" (API key)" if s.stored and s.kind == "api_key" else "")
                details = [via]
                details += [s.account] if s.account else []
                details += [f"{label}: {value}" for label, value in s.rows]
                if s.expires_ms is not None:
                    details.append(expiry(s.expires_ms, now_ms))
                details.append(f"token {s.masked_token}" if s.masked_token else "key from a command")
                line += " (" + ", ".join(details) + ")"
            elif s.state is State.NOT_LOGGED_IN:
                line += f" — run `pi-tui login {s.provider}`"
            print(line)
            if s.shadowed:
                print(f"  also set, not used: {', '.join(s.shadowed)}")
            if s.last_error:
                print(f"  {s.last_error}")
        if pending is not None:
            print(migration_note(pending))
    unreadable = any(s.state is State.UNREADABLE for s in statuses)
    return StoreError.exit_code if unreadable else 0


def _cmd_migrate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.store import AUTH_JSON, migrate

    store = _store(args, env)
    if store.kind != AUTH_JSON:
        print(f"pi-tui uses {store.path} (older pi's file), not auth.json; nothing to migrate.")
        return 0
    done, renamed = migrate(store)
    if renamed is None:
        if done.source.exists():
            print(f"{store.path} already has every login in {done.source}; nothing to do.")
        else:
            print(f"No {done.source.name} beside {store.path}; nothing to migrate.")
        return 0
    print(f"Copied {', '.join(done.providers)} into {store.path}; {done.source.name} is now {renamed}.")
    return 0


def _cmd_logout(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.provider is None and not args.yes and sys.stdin.isatty():
        return _run_app(args, env, start="logout")
    provider_id = _provider(args.provider).id
    store = _store(args, env)
    if _stored_kind(store, provider_id) is None:
        print(f"Not logged in to {provider_id} in {store.path}; nothing to do.")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"Add --yes to log out of {provider_id} without a prompt.")
        answer = input(f"Log out of {provider_id} and delete its stored tokens? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Cancelled; nothing was changed.")
            return 1
    from app.service import AuthService

    kind = AuthService(store, env=env).remove(provider_id)
    what = {"oauth": "OAuth login", "api_key": "API key entry"}.get(kind or "", "entry")
    print(f"Logged out of {provider_id}. Removed its {what} from {store.path}")
    return 0


def _stored_kind(store: CredentialStore, provider_id: str) -> str | None:
    """The type of ``provider``'s entry, None when there is none; StoreCorrupt when pi can't use it."""
    entry = store.entry(provider_id)
    return None if entry is None else str(entry.get("type"))


def _cmd_login(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    provider_id = _provider(args.provider).id if args.provider else None
    return _run_app(args, env, start="login", provider=provider_id)


def _run_app(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    start: Start = "status",
    provider: str | None = None,
) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise ConfigError(
            "pi-tui needs a terminal for the full-screen app; use `pi-tui status` or "
            "`pi-tui token PROVIDER` in scripts."
        )
    from app.tui.run import run_app

    return run_app(_store(args, env), env=env, start=start, provider=provider)


_COMMANDS = {
    "token": _cmd_token,
    "status": _cmd_status,
    "logout": _cmd_logout,
    "login": _cmd_login,
    "migrate": _cmd_migrate,
}


if __name__ == "__main__":
    sys.exit(main())
