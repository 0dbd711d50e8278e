"""The ``pi-tui`` command line (same conventions as ``gh auth``).

``status`` and ``token`` are on the hot path of scripts: they import neither Textual nor
httpx (nor asyncio) unless a refresh is due. The full-screen app is imported lazily.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import SimpleNamespace

from app.errors import Cancelled, ConfigError, PiTuiError, StoreCorrupt, StoreError
from app.timefmt import duration_ms

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a tenth of `usage --short`)
if TYPE_CHECKING:
    import argparse

    from app.providers import ProviderInfo
    from app.store import CredentialStore
    from app.tui.outcome import Start

    Args = argparse.Namespace | SimpleNamespace


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``pi-tui`` script; returns the exit code."""
    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else list(argv)
    from app.sanitize import fit_output_streams

    # A terminal that cannot show "…" or "▸" (LC_ALL=C, PYTHONIOENCODING=latin-1) gets "..." and
    # ">" instead of a UnicodeEncodeError.
    fit_output_streams()
    args: Args | None = plain_args(argv)
    if args is None:
        from app.cli_parser import build_parser

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


# The commands scripts and status lines run many times a second, in their plain forms, and the
# app's start, read without argparse (importing and building it cost more than the rest of
# `usage --short`, and a tenth of the app's own share of its first frame):
# command -> (its positional: name, required; its options: flag -> (dest, default, read)), where
# ``read`` turns the option's value into what argparse stores (None when it is not one), and a
# flag that takes no value has none.
Read = Callable[[str], object]
_PLAIN: dict[str, tuple[tuple[str, bool] | None, dict[str, tuple[str, object, Read | None]]]] = {
    "token": (
        ("provider", True),
        {"--account": ("account", None, str), "--min-expiry": ("min_expiry", 0, duration_ms)},
    ),
    "status": (None, {"--json": ("json", False, None)}),
    "usage": (
        ("provider", False),
        {
            "--json": ("json", False, None),
            "--refresh": ("refresh", False, None),
            "--short": ("short", False, None),
        },
    ),
}
_AGENT_DIR: dict[str, tuple[str, object, Read | None]] = {"--agent-dir": ("agent_dir", None, str)}


def plain_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """What argparse (:mod:`app.cli_parser`) makes of ``argv`` when it is a plain form of
    ``token``, ``status`` or ``usage``, or no command at all (the app): each option once and
    spelled out in full (``--opt value`` or ``--opt=value``), no value that starts with ``-``,
    only ``--agent-dir`` before the command. None for anything else (help, an abbreviation, a
    mistake): argparse parses and explains it.
    """
    command: str | None = None
    given: list[str] = []
    found: dict[str, object] = {}
    options = _AGENT_DIR
    words = iter(argv)
    for arg in words:
        if not arg.startswith("-"):
            if command is None:
                if arg not in _PLAIN:
                    return None
                command = arg
                options = {**_AGENT_DIR, **_PLAIN[arg][1]}
            else:
                given.append(arg)
            continue
        flag, has_value, value = arg.partition("=")
        if flag not in options or options[flag][0] in found:
            return None
        dest, _, read = options[flag]
        if read is None:
            if has_value:
                return None
            found[dest] = True
            continue
        if not has_value:
            value = next(words, "-")
            if value.startswith("-"):
                return None
        found[dest] = read(value)
        if found[dest] is None:
            return None
    if command is None:  # the full-screen app: `pi-tui`, `pi-tui --agent-dir DIR`
        return SimpleNamespace(command=None, **found)
    positional = _PLAIN[command][0]
    if positional is None:
        if given:
            return None
        names: dict[str, object] = {}
    else:
        name, required = positional
        if len(given) > 1 or (required and not given):
            return None
        names = {name: given[0] if given else None}
    defaults = {dest: default for dest, default, _ in _PLAIN[command][1].values()}
    return SimpleNamespace(command=command, **names, **{**defaults, **found})


def _terminate_as_interrupt() -> None:
    """SIGTERM from now on takes the Ctrl-C path: asyncio.run turns SIGINT into a clean
    cancellation of the running task, so what it has to save is saved before exit."""
    import signal

    from app.store.locks import term_as_interrupt

    signal.signal(signal.SIGTERM, term_as_interrupt)


def _store(args: Args, env: Mapping[str, str]) -> CredentialStore:
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


def _provider(name: str | None, store: CredentialStore) -> ProviderInfo:
    """The named provider: a built-in one, or a custom gateway of ``store``'s agent directory."""
    from app.providers import provider

    if name is None:
        from app.cli_parser import provider_ids

        raise ConfigError(f"Name a provider: {provider_ids()}.")
    agent_dir = store.path.parent
    try:
        return provider(name.strip(), agent_dir)
    except ConfigError:
        return provider(name.strip().lower(), agent_dir)


def _cmd_token(args: Args, env: Mapping[str, str]) -> int:
    from app.sanitize import check_token_printable
    from app.service import AuthService
    from app.state import BY_TOKEN

    store = _store(args, env)
    info = _provider(args.provider, store)
    service = AuthService(store, env=env, actor=BY_TOKEN)
    # SIGTERM takes the Ctrl-C path, so a refresh answer in flight is still saved before exit.
    _terminate_as_interrupt()
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


def _cmd_status(args: Args, env: Mapping[str, str]) -> int:
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


def _cmd_migrate(args: Args, env: Mapping[str, str]) -> int:
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


def _cmd_logout(args: Args, env: Mapping[str, str]) -> int:
    if args.account or args.switch_to:
        from app.accounts_cli import logout_account

        store = _store(args, env)
        return logout_account(args, env, store, _provider(args.provider, store).id, _confirm)
    if args.provider is None and not args.yes and sys.stdin.isatty():
        return _run_app(args, env, start="logout")
    store = _store(args, env)
    provider_id = _provider(args.provider, store).id
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


def _cmd_login(args: Args, env: Mapping[str, str]) -> int:
    if args.api_key or args.no_tui:
        store = _store(args, env)
        info = _provider(args.provider, store)  # "Name a provider" without one
        return (_api_key_login if args.api_key else _plain_login)(args, env, store, info)
    provider_id = _provider(args.provider, _store(args, env)).id if args.provider else None
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        name = provider_id or "PROVIDER"
        raise ConfigError(
            "The full-screen app needs a terminal. To log in without one, run "
            f"`pi-tui login {name} --no-tui`: it prints the link and reads the code from stdin."
        )
    return _run_app(args, env, start="login", provider=provider_id)


def _api_key_login(args: Args, env: Mapping[str, str], store: CredentialStore, info: ProviderInfo) -> int:
    """``login PROVIDER --api-key``: pi's ``{"type": "api_key", "key": …}`` entry, the key from stdin."""
    from app.store import AUTH_JSON

    if not info.api_key_vars:
        raise ConfigError(f"{info.name} takes no API key; log in with `pi-tui login {info.id}`.")
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


def _plain_login(args: Args, env: Mapping[str, str], store: CredentialStore, info: ProviderInfo) -> int:
    """``login PROVIDER --no-tui``: the one login sequence with the plain-lines Prompter."""
    import asyncio

    from app.login import named_method
    from app.logs import LogRefused, setup_logging
    from app.opener import open_url
    from app.plain_login import LineReader, PlainLogin
    from app.service import AuthService

    provider_id = info.id
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
    args: Args,
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


def _cmd_usage(args: Args, env: Mapping[str, str]) -> int:
    """``usage``: what each stored login's subscription has left (app.usage). Exit 0 even when a
    provider's usage could not be read; 1 when the provider named has no login."""
    from app.providers import registry

    store = _store(args, env)
    infos = (
        [_provider(args.provider, store)]
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


def _cmd_accounts(args: Args, env: Mapping[str, str]) -> int:
    from app.accounts_cli import list_command

    store = _store(args, env)
    ids = [_provider(args.provider, store).id] if args.provider else None
    return list_command(args, env, store, ids)


def _cmd_switch(args: Args, env: Mapping[str, str]) -> int:
    from app.accounts_cli import switch_command

    _terminate_as_interrupt()  # a refresh answer in flight is saved before exit
    store = _store(args, env)
    return switch_command(args, env, store, _provider(args.provider, store).id)


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
