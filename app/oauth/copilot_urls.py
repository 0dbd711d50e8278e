"""GitHub hosts and the Copilot API base: what the user typed, and where Copilot lives.

No httpx here: ``pi-tui status`` shows the API base, and the login screen checks the
Enterprise host, without loading the HTTP stack.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from app.errors import LoginInputError
from app.oauth.endpoints import COPILOT_DEFAULT_API, GITHUB_DOMAIN, Endpoints, check_url

COPILOT_API_VARIABLE = "PI_TUI_COPILOT_API_URL"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# The proxy-ep field of a Copilot token, e.g. "...;proxy-ep=proxy.individual.githubcopilot.com;..."
_PROXY_EP = re.compile(r"(?:^|;)\s*proxy-ep=([^;\s]*)")
_HOST_AND_PORT = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$")


def normalize_domain(text: str) -> str | None:
    """The GitHub host from what the user typed; None for github.com (or nothing typed).

    Accepts a host (``ghe.example.com``), a host with a port, or an http(s) URL on that host;
    keeps the lower-cased hostname (IDNA-encoded) and the port if one was given
    (``localhost:8443``). Raises LoginInputError with a sentence for anything else, so the
    screen can ask again.
    """
    raw = text.strip()
    if not raw:
        return None
    if any(ch.isspace() for ch in raw):
        raise LoginInputError(
            "A GitHub Enterprise host has no spaces; type just the host, e.g. ghe.example.com."
        )
    has_scheme = "://" in raw
    try:
        parts = urlsplit(raw if has_scheme else f"//{raw}")
        host = parts.hostname or ""
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise _not_a_host(raw) from None
    if has_scheme and parts.scheme.lower() not in ("http", "https"):
        raise LoginInputError(
            "Only an https:// address (or a bare host) works for GitHub Enterprise, "
            f"not {_shown(raw)}. Type e.g. ghe.example.com."
        )
    if not host or parts.username is not None or parts.password is not None:
        raise _not_a_host(raw)
    host = _ascii_host(host, raw).rstrip(".")
    if host == GITHUB_DOMAIN and port is None:
        return None
    return host if port is None else f"{host}:{port}"


def _ascii_host(host: str, raw: str) -> str:
    try:
        ipaddress.IPv4Address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _not_a_host(raw) from None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _not_a_host(raw)
    return ascii_host


def _not_a_host(raw: str) -> LoginInputError:
    return LoginInputError(
        f"{_shown(raw)} is not a host name. Type your GitHub Enterprise host, e.g. "
        "ghe.example.com, or leave it empty for github.com."
    )


def _shown(raw: str) -> str:
    from app.sanitize import for_display  # only error messages need it

    return repr(for_display(raw, limit=80))


def proxy_api_base(token: str) -> str | None:
    """``https://api.X`` from a Copilot token's ``proxy-ep=proxy.X`` field; None if absent or odd."""
    match = _PROXY_EP.search(token or "")
    if match is None:
        return None
    host = match.group(1).lower()
    if not _HOST_AND_PORT.match(host) or host.startswith((".", "-")):
        return None
    if host.startswith("proxy."):
        host = "api." + host.removeprefix("proxy.")
    return f"https://{host}"


def api_base_url(
    token: str,
    enterprise_url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    endpoints: Endpoints | None = None,
) -> str:
    """The Copilot API base, in this order: the override, the token's ``proxy-ep``,
    ``https://copilot-api.{domain}`` for Enterprise, ``https://api.individual.githubcopilot.com``.

    The override comes from ``endpoints`` if given (already checked), else from
    ``PI_TUI_COPILOT_API_URL`` in ``env`` (default ``os.environ``), checked like every override.
    """
    if endpoints is not None:
        override = endpoints.copilot_api
    else:
        env = os.environ if env is None else env
        value = env.get(COPILOT_API_VARIABLE)
        override = check_url(COPILOT_API_VARIABLE, value) if value else None
    if override:
        return override
    from_token = proxy_api_base(token)
    if from_token:
        return from_token
    domain = _enterprise_domain(enterprise_url)
    if domain:
        return f"https://copilot-api.{domain}"
    return COPILOT_DEFAULT_API


def _enterprise_domain(enterprise_url: object) -> str | None:
    """The stored ``enterpriseUrl`` as a host (pi stores a host; a URL is tolerated)."""
    if not isinstance(enterprise_url, str):
        return None
    try:
        return normalize_domain(enterprise_url)
    except LoginInputError:
        return None
