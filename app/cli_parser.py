"""The ``pi-tui`` command line's grammar: argparse's parser, help and error sentences.

:func:`app.cli.main` reads the plainest forms of the commands scripts run many times a second
(``token``, ``status``, ``usage``) without it (:func:`app.cli.plain_args`); everything else,
help and every mistake included, is parsed here.
"""

from __future__ import annotations

import argparse
import os

from app.providers import PROVIDERS
from app.timefmt import duration_ms
from app.version import __version__


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


def provider_ids() -> str:
    """The built-in providers' ids, for help lines and the "name a provider" sentence."""
    return " or ".join(PROVIDERS) if len(PROVIDERS) < 3 else ", ".join(PROVIDERS)


def _method_ids() -> str:
    """Each provider's login methods, for ``login --help`` (a custom gateway's are its module's)."""
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
    login.add_argument("provider", nargs="?", help=provider_ids())
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
    logout.add_argument("provider", nargs="?", help=provider_ids())
    logout.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    logout.add_argument("--account", metavar="A", help="the account to log out of (name, label or prefix)")
    logout.add_argument(
        "--switch-to", metavar="B", help="after logging out of the active account, make B the active one"
    )
    status = command("status", "show where each login stands")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    token = command("token", "print a valid access token")
    token.add_argument("provider", help=provider_ids())
    token.add_argument("--account", metavar="A", help="another stored account's token, without switching pi")
    token.add_argument(
        "--min-expiry",
        metavar="DURATION",
        type=_duration,
        default=0,
        help="refresh first if the token has less left than this (seconds, or 90s, 30m, 2h)",
    )
    command("migrate", "copy oauth.json's logins into auth.json (for pi 0.27 and later)")
    usage = command("usage", "show how much of each subscription is left")
    usage.add_argument("provider", nargs="?", help=provider_ids())
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    usage.add_argument("--refresh", action="store_true", help="ask the providers now, not the cache")
    usage.add_argument(
        "--short", action="store_true", help="one short line from the cache, no network (for a status bar)"
    )
    accounts = command("accounts", "list every account of each provider, the active one marked")
    accounts.add_argument("provider", nargs="?", help=provider_ids())
    accounts.add_argument("--json", action="store_true", help="machine-readable output")
    switch = command("switch", "make another stored account the one pi uses")
    switch.add_argument("provider", help=provider_ids())
    switch.add_argument("account", help="the account's name, its label, or a unique prefix")
    return parser


def _duration(text: str) -> int:
    """``--min-expiry``'s type: :func:`app.timefmt.duration_ms`, or argparse's error sentence."""
    ms = duration_ms(text)
    if ms is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give seconds, or e.g. 90s, 30m, 2h")
    return ms
