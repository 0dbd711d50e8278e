"""pi's ``api_key`` entries: the ``key`` is a literal, an environment variable, or a command.

As pi 1.x resolves it (``resolveConfigValue``): ``!command`` runs the command with the user's
shell (``$SHELL -lc``, 10 s at most) and takes its trimmed output; a value that names a set
environment variable is that variable; otherwise ``$VAR`` and ``${VAR}`` inside it are
replaced by the variables' values. An empty result is no key. A command is run only when a
token is asked for (``pi-tui token``, the library), never to show status.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from app.errors import ConfigError

COMMAND_TIMEOUT_SECONDS = 10.0
_REFERENCE = re.compile(r"\$(\w+)|\$\{([^}]+)\}")


def is_command(value: str) -> bool:
    """True when the key is a ``!command`` (which only a token request may run)."""
    return value.startswith("!")


def resolve_key(value: str, env: Mapping[str, str], provider_id: str, store_path: Path) -> str:
    """The API key ``value`` stands for; ConfigError (a sentence, no secret) when there is none."""

    where = f"The {provider_id} api_key entry in {store_path}"
    if is_command(value):
        return _run(value[1:], env, where)
    if env.get(value):
        return env[value]
    expanded = _REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
    if expanded:
        return expanded
    names = [m.group(1) or m.group(2) for m in _REFERENCE.finditer(value)]
    if names:
        missing = ", ".join(f"${name}" for name in names)
        raise ConfigError(f"{where} reads {missing}, which is not set; set it or change the entry.")
    raise ConfigError(f"{where} has an empty key; log in again or set the key.")


def _run(command: str, env: Mapping[str, str], where: str) -> str:
    import subprocess  # only a !command pays for it

    shell = env.get("SHELL") or "/bin/sh"
    try:
        result = subprocess.run(
            [shell, "-lc", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT_SECONDS,
            env=dict(env) if env is not os.environ else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{where} runs a command that did not finish within {COMMAND_TIMEOUT_SECONDS:g} s; "
            f"check it in a shell, then try again."
        ) from None
    except OSError as error:
        raise ConfigError(
            f"{where} runs a command, but {shell} could not start ({error.strerror})."
        ) from None
    key = result.stdout.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        raise ConfigError(
            f"{where} runs a command that failed (exit status {result.returncode}); check it in a shell, "
            f"then try again."
        )
    if not key:
        raise ConfigError(f"{where} runs a command that printed nothing; check it in a shell.")
    if not key.isprintable():
        # Escape sequences, controls or several lines: `pi-tui token` would send them to a terminal.
        raise ConfigError(
            f"{where} runs a command whose output holds control characters or several lines; "
            "pi-tui will not use it. Check the command in a shell."
        )
    return key
