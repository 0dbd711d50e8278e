"""The rules every ``PI_TUI_*`` override follows: https (or http to loopback), and the callback port.

Each provider module reads its own variables through :func:`url_override`; this module names
no provider. No httpx here: ``pi-tui status`` needs these values without the HTTP stack.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from app.errors import ConfigError

CALLBACK_PORT_VARIABLE = "PI_TUI_CALLBACK_PORT"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any 127.0.0.0/8 or ::1 address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(variable: str, value: str) -> str:
    """Return ``value`` without a trailing slash if it is https, or http to a loopback host."""
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        parts, host = None, ""
    # urlsplit takes "exa mple.com" as a host name; a URL with a space or a control character
    # in it only fails later, as a baffling network error.
    if any(ch.isspace() or not ch.isprintable() for ch in value.strip()):
        parts = None
    if parts is None or not host:
        raise ConfigError(f"{variable} must be a URL such as https://example.com, not {value!r}.")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return value.strip().rstrip("/")
    raise ConfigError(
        f"{variable} must use https:// (http:// is allowed only for 127.0.0.1, localhost "
        f"or [::1]); got {value!r}."
    )


def url_override(env: Mapping[str, str], variable: str, default: str) -> str:
    """``env[variable]`` checked by :func:`check_url`, or ``default`` when unset or blank."""
    value = env.get(variable)
    return check_url(variable, value) if value else default


def optional_override(env: Mapping[str, str], variable: str) -> str | None:
    """``env[variable]`` checked by :func:`check_url`, or None when unset or blank."""
    value = env.get(variable)
    return check_url(variable, value) if value else None


def callback_port(env: Mapping[str, str], default: int) -> int | None:
    """The loopback port: ``PI_TUI_CALLBACK_PORT`` (0 = any free port, ``off`` = None), else ``default``."""
    raw = env.get(CALLBACK_PORT_VARIABLE)
    if raw is None or raw.strip() == "":
        return default
    raw = raw.strip().lower()
    if raw == "off":
        return None
    if raw.isdigit() and int(raw) <= 65535:
        return int(raw)
    raise ConfigError(
        f"{CALLBACK_PORT_VARIABLE} must be a port number (0 for any free port) or 'off'; got {raw!r}."
    )


def check_overrides(env: Mapping[str, str]) -> None:
    """Check every ``PI_TUI_*_URL`` and the callback port at start-up; ConfigError names a bad one."""
    for name in sorted(env):
        if name.startswith("PI_TUI_") and name.endswith("_URL") and env[name]:
            check_url(name, env[name])
    callback_port(env, 0)
