"""Every URL pi-tui talks to, with the ``PI_TUI_*`` overrides applied and checked.

Loaded once at start-up; a bad override is a :class:`ConfigError` that names the variable.
No httpx here: ``pi-tui status`` needs these values without the HTTP stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from app.errors import ConfigError

ANTHROPIC_AUTHORIZE_URL = "https://claude.ai/oauth/authorize"
ANTHROPIC_TOKEN_URL = "https://platform.claude.com/v1/oauth/token"
ANTHROPIC_API_URL = "https://api.anthropic.com"
DEFAULT_CALLBACK_PORT = 53692
GITHUB_DOMAIN = "github.com"
COPILOT_DEFAULT_API = "https://api.individual.githubcopilot.com"

URL_VARIABLES = (
    "PI_TUI_ANTHROPIC_AUTHORIZE_URL",
    "PI_TUI_ANTHROPIC_TOKEN_URL",
    "PI_TUI_ANTHROPIC_API_URL",
    "PI_TUI_GITHUB_URL",
    "PI_TUI_GITHUB_API_URL",
    "PI_TUI_COPILOT_API_URL",
)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any 127.0.0.0/8 or ::1 address."""
    if host.lower() == "localhost":
        return True
    try:
        import ipaddress  # only an http:// override needs it

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


class Endpoints(NamedTuple):
    """Resolved endpoints. ``None`` for a GitHub/Copilot base means "derive it from the domain"."""

    anthropic_authorize: str = ANTHROPIC_AUTHORIZE_URL
    anthropic_token: str = ANTHROPIC_TOKEN_URL
    anthropic_api: str = ANTHROPIC_API_URL
    github: str | None = None
    github_api: str | None = None
    copilot_api: str | None = None
    # None: no listener (paste only); 0: ephemeral port.
    callback_port: int | None = DEFAULT_CALLBACK_PORT

    def github_base(self, domain: str) -> str:
        """Base for the device code and polling requests."""
        return self.github or f"https://{domain}"

    def github_api_base(self, domain: str) -> str:
        """Base for the Copilot token exchange and ``/user``."""
        return self.github_api or f"https://api.{domain}"


def load_endpoints(env: Mapping[str, str] | None = None) -> Endpoints:
    """Read the overrides from ``env`` (default ``os.environ``), raising ConfigError on a bad one."""
    env = os.environ if env is None else env
    values = {name: check_url(name, env[name]) for name in URL_VARIABLES if env.get(name)}
    return Endpoints(
        anthropic_authorize=values.get("PI_TUI_ANTHROPIC_AUTHORIZE_URL", ANTHROPIC_AUTHORIZE_URL),
        anthropic_token=values.get("PI_TUI_ANTHROPIC_TOKEN_URL", ANTHROPIC_TOKEN_URL),
        anthropic_api=values.get("PI_TUI_ANTHROPIC_API_URL", ANTHROPIC_API_URL),
        github=values.get("PI_TUI_GITHUB_URL"),
        github_api=values.get("PI_TUI_GITHUB_API_URL"),
        copilot_api=values.get("PI_TUI_COPILOT_API_URL"),
        callback_port=_callback_port(env.get("PI_TUI_CALLBACK_PORT")),
    )


def _callback_port(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return DEFAULT_CALLBACK_PORT
    raw = raw.strip().lower()
    if raw == "off":
        return None
    if raw.isdigit() and int(raw) <= 65535:
        return int(raw)
    raise ConfigError(
        f"PI_TUI_CALLBACK_PORT must be a port number (0 for any free port) or 'off'; got {raw!r}."
    )
