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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from app.errors import Cancelled, ConfigError, PiTuiError, StoreCorrupt, StoreError
from app.version import __version__

if TYPE_CHECKING:
    from app.providers import ProviderInfo
    from app.store import CredentialStore
    from app.tui.outcome import Start


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


def _method_ids() -> str:
    """Each provider's login methods, for ``login --help`` (a custom gateway's are its module's)."""
    from app.providers import PROVIDERS

    return "; ".join(f"{p.id}: {', '.join(m.id for m in p.methods)}" for p in PROVIDERS.values())


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
        "--method",
        metavar="ID",
        help=f"the login method (with --no-tui; default: the usual one here): {_method_ids()}",
    )
    login.add_argument(
        "--api-key",
        action="store_true",
        help="store an API key instead of logging in, read from stdin (hidden on a terminal), "
        "as pi's api_key entry",
    )
    stored = login.add_mutually_exclusive_group()
    stored.add_argument(
        "--replace",
        "--yes",
        "-y",
        dest="yes",
        action="store_true",
        help="replace an existing login without asking (with --no-tui or --api-key)",
    )
    stored.add_argument(
        "--add", action="store_true", help="keep an existing login as another account, without asking"
    )
    login.add_argument("--name", metavar="LABEL", help="a label for the new account (see `pi-tui accounts`)")
    logout = command("logout", "remove a stored login")
    logout.add_argument("provider", nargs="?", help=_provider_ids())
    logout.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    logout.add_argument("--account", metavar="A", help="the account to log out of (name, label or prefix)")
    logout.add_argument(
        "--switch-to", metavar="B", help="after logging out of the active account, make B the active one"
    )
    status = command("status", "show where each login stands")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    token = command("token", "print a valid access token")
    token.add_argument("provider", help=_provider_ids())
    token.add_argument("--account", metavar="A", help="another stored account's token, without switching pi")
    token.add_argument(
        "--min-expiry",
        metavar="DURATION",
        type=_duration_ms,
        default=0,
        help="refresh first if the token has less left than this (seconds, or 90s, 30m, 2h)",
    )
    command("migrate", "copy oauth.json's logins into auth.json (for pi 0.27 and later)")
    usage = command("usage", "show how much of each subscription is left")
    usage.add_argument("provider", nargs="?", help=_provider_ids())
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    usage.add_argument("--refresh", action="store_true", help="ask the providers now, not the cache")
    usage.add_argument(
        "--short", action="store_true", help="one short line from the cache, no network (for a status bar)"
    )
    accounts = command("accounts", "list every account of each provider, the active one marked")
    accounts.add_argument("provider", nargs="?", help=_provider_ids())
    accounts.add_argument("--json", action="store_true", help="machine-readable output")
    switch = command("switch", "make another stored account the one pi uses")
    switch.add_argument("provider", help=_provider_ids())
    switch.add_argument("account", help="the account's name, its label, or a unique prefix")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``pi-tui`` script; returns the exit code."""
    env = os.environ if env is None else env
    from app.sanitize import fit_output_streams

    # A terminal that cannot show "…" or "▸" (LC_ALL=C, PYTHONIOENCODING=latin-1) gets "..." and
    # ">" instead of a UnicodeEncodeError.
    fit_output_streams()
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


def _provider(
    name: str | None, args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None
) -> ProviderInfo:
    """The named provider; with ``args`` and ``env``, also a custom gateway of that agent dir."""
    from app.providers import provider

    if name is None:
        raise ConfigError(f"Name a provider: {_provider_ids()}.")
    agent_dir = _store(args, env).path.parent if args is not None and env is not None else None
    try:
        return provider(name.strip(), agent_dir)
    except ConfigError:
        return provider(name.strip().lower(), agent_dir)


def _cmd_token(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.sanitize import check_token_printable
    from app.service import AuthService
    from app.state import BY_TOKEN

    info = _provider(args.provider, args, env)
    service = AuthService(_store(args, env), env=env, actor=BY_TOKEN)
    # SIGTERM takes the Ctrl-C path, so a refresh answer in flight is still saved before exit.
    signal.signal(signal.SIGTERM, _interrupt)
    issued = service.token_sync(info.id, min_valid_ms=args.min_expiry, on_wait=_say, account=args.account)
    if issued.warning:
        _say(issued.warning)
    found = issued.resolution
    check_token_printable(
        issued.token,
        provider=info.id,
        variable=None if found.stored else found.source,
        api_key=found.kind == "api_key",
    )
    print(issued.token)
    return 0


def _say(line: str) -> None:
    print(f"pi-tui: {line}", file=sys.stderr, flush=True)


def _duration_ms(text: str) -> int:
    """``--min-expiry``: seconds, or a number with ``s``, ``m`` or ``h``, as milliseconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    value = text.strip().lower()
    scale = units.get(value[-1:], 0)
    number = value[:-1] if scale else value
    if not number.isdigit() or len(number) > 7:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give seconds, or e.g. 90s, 30m, 2h")
    return int(number) * (scale or 1) * 1000


def _cmd_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.credentials import API_KEY, State, all_statuses

    store = _store(args, env)
    from app.expiry import current_ms

    now_ms = current_ms()
    statuses = all_statuses(store, env, now_ms=now_ms)
    from app.sanitize import display_text
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
                "providers": [display_text(name) for name in pending.providers],
                "command": "pi-tui migrate",
            },
        }
        print(json.dumps(doc, indent=2))
    else:
        from app.credentials import life_text
        from app.timefmt import duration, expiry

        print(f"Store: {display_text(str(store.path))}")
        # A store that cannot be read fails every provider with the same long sentence: said
        # once here, then each provider's line is short.
        errors = [s.last_error for s in statuses if s.last_error]
        shared = {error for error in errors if errors.count(error) > 1}
        for error in sorted(shared, key=errors.index):
            print(f"  {error}")
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
            if s.last_error in shared and s.state is not State.UNREADABLE:
                print("  see the note above")
            elif s.last_error and s.last_error not in shared:
                when = f" ({duration(now_ms - s.failed_at_ms)} ago)" if s.failed_at_ms is not None else ""
                print(f"  {s.last_error}{when}")
            life = life_text(s, now_ms)
            if life:
                print(f"  {life}")
        if pending is not None:
            print(display_text(migration_note(pending)))
        from app.providers import registry_problem

        problem = registry_problem(store.path.parent, env)
        if problem:
            print(display_text(problem))
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
    if args.account or args.switch_to:
        from app.accounts_cli import logout_account

        return logout_account(args, env, _store(args, env), _provider(args.provider, args, env).id, _confirm)
    if args.provider is None and not args.yes and sys.stdin.isatty():
        return _run_app(args, env, start="logout")
    provider_id = _provider(args.provider, args, env).id
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
    provider_id = _provider(args.provider, args, env).id if args.provider else None
    if args.api_key:
        return _api_key_login(args, env, _provider(args.provider, args, env))
    if args.no_tui:
        return _plain_login(args, env, _provider(args.provider, args, env).id)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        name = provider_id or "PROVIDER"
        raise ConfigError(
            "The full-screen app needs a terminal. To log in without one, run "
            f"`pi-tui login {name} --no-tui`: it prints the link and reads the code from stdin."
        )
    return _run_app(args, env, start="login", provider=provider_id)


def _api_key_login(args: argparse.Namespace, env: Mapping[str, str], info: ProviderInfo) -> int:
    """``login PROVIDER --api-key``: pi's ``{"type": "api_key", "key": …}`` entry, the key from stdin."""
    from app.store import AUTH_JSON

    if not info.api_key_vars:
        raise ConfigError(f"{info.name} takes no API key; log in with `pi-tui login {info.id}`.")
    store = _store(args, env)
    if store.kind != AUTH_JSON:
        raise ConfigError(
            f"{store.path.name} (older pi's file) holds no API keys; with pi 0.27 or later run "
            "`pi-tui migrate` first, or set " + " or ".join(info.api_key_vars) + "."
        )
    existing = store.entry(info.id)
    terminal = sys.stdin.isatty()
    if existing is not None and not args.yes:
        what = "a login" if existing["type"] == "oauth" else "an API key"
        question = f"{store.path.name} holds {what} for {info.name}. Replace it with this API key? [y/N] "
        if not terminal:
            raise ConfigError(f"{question.removesuffix(' [y/N] ')} Add --yes to replace it without a prompt.")
        if not _confirm(question):
            raise Cancelled("Cancelled; the existing entry was kept.")
    key = _read_key(info, terminal)
    from app.credentials import state_file

    with store.transaction() as tx:
        tx.put(info.id, {"type": "api_key", "key": key})
    state_file(env).forget(store.path, info.id)  # the account of a previous login is not this key's
    print(f"Saved an API key for {info.name} to {store.path}", file=sys.stderr)
    return 0


def _read_key(info: ProviderInfo, terminal: bool) -> str:
    """The key from stdin: a hidden prompt on a terminal, else the first line. Never echoed."""
    try:
        if terminal:
            import getpass

            text = getpass.getpass(f"{info.name} API key (hidden): ")
        else:
            text = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        raise Cancelled("Cancelled; nothing was changed.") from None
    key = text.strip()
    # pi also takes "!command" (run when the key is needed) and "$VAR"; only a command has spaces.
    spaced = any(ch.isspace() for ch in key) and not key.startswith("!")
    if not key or spaced or not key.isprintable() or len(key) > 8192:
        raise ConfigError(
            "That is not an API key (it is empty, or has spaces or control characters); "
            "nothing was saved. Pipe the key alone on one line, or paste it at the prompt."
        )
    return key


def _plain_login(args: argparse.Namespace, env: Mapping[str, str], provider_id: str) -> int:
    """``login PROVIDER --no-tui``: the one login sequence with the plain-lines Prompter."""
    import asyncio

    from app.login import named_method
    from app.logs import LogRefused, setup_logging
    from app.opener import open_url
    from app.plain_login import LineReader, PlainLogin
    from app.service import AuthService

    info = _provider(provider_id, args, env)
    store = _store(args, env)
    service = AuthService(store, env=env)
    if args.method and all(m.id != args.method for m in info.methods):
        # An unknown method is a sentence before anything else is asked.
        named_method(info, service.offers(provider_id), args.method)
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
        mode = "add" if args.add else "replace" if args.yes else None
        result = asyncio.run(plain.run(provider_id, args.method, mode=mode, label=args.name))
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
    with _collector_paused_for_start_up() as resume:
        from app.tui.run import run_app

        return run_app(_store(args, env), env=env, start=start, provider=provider, on_first_frame=resume)


@contextlib.contextmanager
def _collector_paused_for_start_up() -> Iterator[Callable[[], None]]:
    """The one garbage-collector trick: none during the app's start-up.

    Starting up allocates much and frees little: collecting then only delays the first frame
    (by about a twentieth). Yields what the app calls once that frame is drawn: what start-up
    made lives as long as the app, so it is frozen (never scanned again) and collecting resumes.
    """
    import gc

    def resume() -> None:
        gc.freeze()
        gc.enable()

    gc.disable()
    try:
        yield resume
    finally:
        gc.enable()


def _cmd_usage(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``usage``: what each stored login's subscription has left (app.usage). Exit 0 even when a
    provider's usage could not be read; 1 when the provider named has no login."""
    from app.providers import registry

    store = _store(args, env)
    infos = (
        [_provider(args.provider, args, env)]
        if args.provider
        else list(registry(store.path.parent, env).values())
    )
    if args.short:
        return _usage_short(store, env, infos)
    import asyncio

    from app.expiry import current_ms
    from app.service import AuthService
    from app.usage import NOT_LOGGED_IN, UsageReport

    service = AuthService(store, env=env)

    async def gather() -> list[UsageReport]:
        return list(await asyncio.gather(*(service.usage(info.id, refresh=args.refresh) for info in infos)))

    reports = asyncio.run(gather())
    now_ms = current_ms()
    missing = args.provider is not None and reports[0].reason == NOT_LOGGED_IN
    if not args.provider:
        reports = [r for r in reports if r.reason != NOT_LOGGED_IN]
    if args.json:
        print(
            json.dumps(
                {"store": str(store.path), "providers": [r.to_json(now_ms=now_ms) for r in reports]}, indent=2
            )
        )
    elif not reports:
        print(f"No logins in {store.path}; log in with `pi-tui login`.")
    else:
        from app.sanitize import strip_escapes
        from app.usage_text import can_draw, report_lines

        ascii = not can_draw(getattr(sys.stdout, "encoding", None))
        for line in report_lines(reports, now_ms, ascii=ascii):
            print(strip_escapes(line))
    if missing:
        from app.providers import login_hint

        print(f"pi-tui: {login_hint(infos[0])}", file=sys.stderr)
        return 1
    return 0


def _usage_short(store: CredentialStore, env: Mapping[str, str], infos: list[ProviderInfo]) -> int:
    """``usage --short``: one line from the cache alone; no asyncio, no httpx, no network."""
    from app.expiry import current_ms
    from app.sanitize import strip_escapes
    from app.usage import UsageCache
    from app.usage_text import can_draw, short_line

    cache = UsageCache.for_store(store.path, env)
    shown = []
    for info in infos:
        record = cache.read(info.id)
        if record is None:
            continue
        try:
            if store.get(info.id) is None:
                continue  # logged out since
        except StoreError:
            continue
        shown.append((info.short or info.id, record.report(info, cached=True)))
    ascii = not can_draw(getattr(sys.stdout, "encoding", None))
    print(strip_escapes(short_line(shown, current_ms(), ascii=ascii)))
    return 0


def _cmd_accounts(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.accounts_cli import list_command

    ids = [_provider(args.provider, args, env).id] if args.provider else None
    return list_command(args, env, _store(args, env), ids)


def _cmd_switch(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from app.accounts_cli import switch_command

    signal.signal(signal.SIGTERM, _interrupt)  # a refresh answer in flight is saved before exit
    return switch_command(args, env, _store(args, env), _provider(args.provider, args, env).id)


_COMMANDS = {
    "usage": _cmd_usage,
    "token": _cmd_token,
    "status": _cmd_status,
    "logout": _cmd_logout,
    "login": _cmd_login,
    "migrate": _cmd_migrate,
    "accounts": _cmd_accounts,
    "switch": _cmd_switch,
}


if __name__ == "__main__":
    sys.exit(main())
