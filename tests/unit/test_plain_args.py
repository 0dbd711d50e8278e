"""``token``, ``status`` and ``usage`` in their plain forms are read without argparse
(:func:`app.cli.plain_args`); whatever it reads, argparse must read the same way."""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator

import pytest

from app.cli import plain_args
from app.cli_parser import build_parser

# Option pieces per command: each is one or two argv words.
PIECES = {
    "token": [
        ["--account", "work"],
        ["--account=me@x.org"],
        ["--min-expiry", "30m"],
        ["--min-expiry=90"],
        ["--min-expiry", "2h"],
    ],
    "status": [["--json"]],
    "usage": [["--short"], ["--json"], ["--refresh"]],
}
AGENT = [["--agent-dir", "agents/agent one"], ["--agent-dir=rel/agent"], ["--agent-dir="]]
POSITIONALS = {"token": [["anthropic"]], "status": [[]], "usage": [[], ["github-copilot"]]}
# Forms plain_args must leave to argparse (help, abbreviations, mistakes, odd values).
ODD = [
    ["--help"],
    ["token", "-h"],
    ["token", "anthropic", "--help"],
    ["--version"],
    ["token"],
    ["token", "anthropic", "copilot"],
    ["token", "anthropic", "--acc", "x"],
    ["token", "anthropic", "--account"],
    ["token", "anthropic", "--account", "-x"],
    ["token", "anthropic", "--account", "a", "--account", "b"],
    ["token", "anthropic", "--min-expiry", "soon"],
    ["token", "anthropic", "--min-expiry", "-5"],
    ["token", "anthropic", "--json"],
    ["token", "--", "anthropic"],
    ["token", "anthropic", "-"],
    ["--agent-dir", "a", "token", "anthropic", "--agent-dir", "b"],
    ["--agent", "a", "token", "anthropic"],
    ["status", "anthropic"],
    ["status", "--json=yes"],
    ["status", "--short"],
    ["usage", "--short", "--short"],
    ["usage", "a", "b"],
    ["login", "anthropic"],
    ["logout", "--yes"],
    ["accounts"],
    ["tokens", "anthropic"],
    ["--json", "status"],
]


def plain_forms() -> Iterator[list[str]]:
    """Every order of every choice of a command's options, with --agent-dir before or after."""
    for command, pieces in PIECES.items():
        for positional in POSITIONALS[command]:
            for count in range(len(pieces) + 1):
                for chosen in itertools.permutations(pieces, count):
                    if len({piece[0].partition("=")[0] for piece in chosen}) < count:
                        continue  # an option twice: not a plain form
                    middle = [word for piece in chosen for word in piece]
                    for at in range(len(middle) + 1, -1, -1):
                        yield [command, *middle[:at], *positional, *middle[at:]]
                    for agent in AGENT:
                        yield [*agent, command, *positional, *middle]
                        yield [command, *middle, *agent, *positional]


PARSER = build_parser()


def argparse_reads(argv: list[str]) -> dict[str, object] | None:
    """argparse's namespace for ``argv`` as a dict, None when it refuses (or prints help)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(PARSER.parse_args(argv))
        except SystemExit:
            return None


def test_plain_forms_are_read_as_argparse_reads_them() -> None:
    read = 0
    for argv in plain_forms():
        plain = plain_args(argv)
        expected = argparse_reads(argv)
        if plain is not None:
            assert expected is not None, f"argparse refuses {argv}, plain_args read it"
            assert vars(plain) == expected, argv
            read += 1
    # Most plain forms are read without argparse (the point of plain_args).
    assert read > 500


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--agent-dir", "/a"],
        ["--agent-dir=/a"],
        ["token", "anthropic"],
        ["token", "anthropic", "--agent-dir", "/a"],
        ["--agent-dir", "/a", "token", "anthropic", "--min-expiry", "30m", "--account=x"],
        ["status", "--json"],
        ["usage", "--short", "--agent-dir=/a"],
        ["usage", "anthropic", "--refresh"],
    ],
)
def test_the_forms_scripts_use_skip_argparse(argv: list[str]) -> None:
    plain = plain_args(argv)
    assert plain is not None
    assert vars(plain) == argparse_reads(argv)


@pytest.mark.parametrize("argv", ODD, ids=" ".join)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert plain_args(argv) is None
