"""The ``pi-tui`` command line (same conventions as ``gh auth``).

``status`` and ``token`` are on the hot path of scripts: they import neither Textual nor
httpx (nor asyncio) unless a refresh is due. The full-screen app is imported lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from app import __version__
from app.errors import Cancelled, ConfigError, PiTuiError, StoreCorrupt, StoreError

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
    login.add_argument(
        "--no-tui",
        action="store_true",
        help="log in with plain lines: the link on stderr, the code read from stdin",
    )
    login.add_argument(
        "--method", metavar="ID", help="the login method (with --no-tui; default: the usual one here)"
    )
    login.add_argument(
        "--yes", "-y", action="store_true", help="replace an existing login without asking (with --no-tui)"
    )
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
        # The terminal has echoed ^C where the cursor was: start a line of our own.
        print(("\n" if sys.stderr.isatty() else "") + "pi-tui: interrupted", file=sys.stderr)
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

    override = getattr(args, "agent_dir", None)
    if override is not None and not override.strip():
        # An empty --agent-dir is a mistake (an unset variable in a script), not "the default".
        raise ConfigError("--agent-dir needs a directory; leave the option out to use the default.")
    return CredentialStore.for_agent_dir(override, env)


def _confirm(question: str) -> bool:
    """Ask ``question`` on the terminal; True only for y/yes. Ctrl-C or Ctrl-D: Cancelled."""
    try:
        answer = input(question)
    except (EOFError, KeyboardInterrupt):
        # The cursor is still on the question's line (after "^C", or nothing for Ctrl-D).
        print(file=sys.stderr)
        raise Cancelled("Cancelled; nothing was changed.") from None
    return answer.strip().lower() in ("y", "yes")


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
        from app.state import BY_TOKEN

        service = AuthService(store, env=env, actor=BY_TOKEN)
        refreshed = asyncio.run(service.refresh_locked(tx, info.id, seen=found.entry, force=False))
    print(refreshed["access"])
    return 0


def _cmd_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.credentials import API_KEY, State, all_statuses

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
        from app.credentials import life_text
        from app.timefmt import duration, expiry

        print(f"Store: {store.path}")
        for s in statuses:
            line = f"{s.name}: {s.state.value}"
            if s.source:
                details = [f"via {s.source}"] + (["API key"] if s.kind == API_KEY else [])
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
                when = f" ({duration(now_ms - s.failed_at_ms)} ago)" if s.failed_at_ms is not None else ""
                print(f"  {s.last_error}{when}")
            life = life_text(s, now_ms)
            if life:
                print(f"  {life}")
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
    try:
        stored = _stored_kind(store, provider_id)
    except StoreCorrupt:
        store.load()  # a damaged file, not just this entry, keeps its sentence (a login replaces it)
        stored = "damaged"
    if stored is None:
        print(f"Not logged in to {provider_id} in {store.path}; nothing to do.")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"Add --yes to log out of {provider_id} without a prompt.")
        if not _confirm(f"Log out of {provider_id} and delete its stored tokens? [y/N] "):
            raise Cancelled("Cancelled; nothing was changed.")
    from app.service import AuthService

    kind = AuthService(store, env=env).remove(provider_id)
    if stored == "damaged":
        kept = f"; the file as it was is kept as {store.last_backup}" if store.last_backup else ""
        print(f"Logged out of {provider_id}. Removed its damaged entry from {store.path}{kept}")
        return 0
    what = {"oauth": "OAuth login", "api_key": "API key entry"}.get(kind or "", "entry")
    print(f"Logged out of {provider_id}. Removed its {what} from {store.path}")
    return 0


def _stored_kind(store: CredentialStore, provider_id: str) -> str | None:
    """The type of ``provider``'s entry, None when there is none; StoreCorrupt when pi can't use it."""
    entry = store.entry(provider_id)
    return None if entry is None else str(entry.get("type"))


def _cmd_login(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    provider_id = _provider(args.provider).id if args.provider else None
    if args.no_tui:
        return _plain_login(args, env, _provider(args.provider).id)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        name = provider_id or "PROVIDER"
        raise ConfigError(
            "The full-screen app needs a terminal. To log in without one, run "
            f"`pi-tui login {name} --no-tui`: it prints the link and reads the code from stdin."
        )
    return _run_app(args, env, start="login", provider=provider_id)


def _plain_login(args: argparse.Namespace, env: Mapping[str, str], provider_id: str) -> int:
    """``login PROVIDER --no-tui``: the login in plain lines (app.plain_login)."""
    import asyncio

    from app.credentials import OAUTH, account_label, remembered_account, state_file
    from app.logs import LogRefused, setup_logging
    from app.opener import open_url
    from app.plain_login import LineReader, PlainLogin
    from app.service import AuthService

    info = _provider(provider_id)
    store = _store(args, env)
    service = AuthService(store, env=env)
    if args.method and all(m.id != args.method for m in info.methods):
        # An unknown method is a sentence before anything else; a login found on this machine
        # (a token another client saved) is one too.
        PlainLogin.named_method(info, service.offers(provider_id), args.method)
    try:
        existing = store.entry(provider_id)
    except StoreCorrupt:
        existing = None  # damaged: nothing to keep; saving sets the file aside, as its sentence says
    if existing is not None and not args.yes:
        if existing["type"] == OAUTH:
            remembered = remembered_account(store, provider_id, state_file(env))
            whose = remembered or account_label(existing) or "an account pi-tui cannot name"
            question = f"You are logged in to {info.name} as {whose}. Replace that login? [y/N] "
        else:
            question = f"{store.path.name} holds an API key for {info.name}. Replace it with a login? [y/N] "
        if not sys.stdin.isatty():
            raise ConfigError(f"{question.removesuffix(' [y/N] ')} Add --yes to replace it without a prompt.")
        if not _confirm(question):
            raise Cancelled("Cancelled; the existing login was kept.")
    with contextlib.suppress(OSError):  # no writable log directory: log nothing, as the app does
        try:
            setup_logging(env)
        except LogRefused as exc:
            print(f"pi-tui: no log: {exc}", file=sys.stderr)
    plain = PlainLogin(
        service,
        err=sys.stderr,
        reader=LineReader(sys.stdin.fileno()),
        opener=lambda url: open_url(url, env=env),
    )
    try:
        result = asyncio.run(plain.run(provider_id, args.method))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise Cancelled("Login cancelled; nothing was changed.") from None
    print(result.message, file=sys.stderr)
    if store.last_backup is not None:
        print(f"The damaged file was kept as {store.last_backup}.", file=sys.stderr)
    return 0


def _run_app(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    start: Start = "status",
    provider: str | None = None,
) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        # main() puts "pi-tui: " in front: don't say the name twice.
        raise ConfigError(
            "The full-screen app needs a terminal; in scripts use `pi-tui status`, "
            "`pi-tui token PROVIDER` or `pi-tui login PROVIDER --no-tui`."
        )
    import gc

    # Starting up allocates much and frees little: collecting then only delays the first frame
    # (by about a twentieth). The app resumes the collector once that frame is drawn.
    gc.disable()
    try:
        from app.tui.run import run_app

        return run_app(_store(args, env), env=env, start=start, provider=provider)
    finally:
        gc.enable()


_COMMANDS = {
    "token": _cmd_token,
    "status": _cmd_status,
    "logout": _cmd_logout,
    "login": _cmd_login,
    "migrate": _cmd_migrate,
}


if __name__ == "__main__":
    sys.exit(main())
