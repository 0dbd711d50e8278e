"""GitHub Copilot: device login (RFC 8628), Copilot token exchange, model policies, request headers.

The stored login is pi's: ``refresh`` is the GitHub token, ``access`` the short-lived Copilot
token, and "refreshing" means trading the GitHub token for a new Copilot token. The question
"host" picks github.com or a GitHub Enterprise (GHE.com) host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlsplit

from app.endpoints import optional_override
from app.errors import AuthError, DeviceFlowError, LoginInputError, NetworkError, RefreshError
from app.expiry import expires_at_ms
from app.flows.oauth import TokenEndpoint
from app.http import authorized_field, oauth_error, request_json
from app.providers.base import CallResult, Usage, UsageWindow, stored_account
from app.sanitize import finite_number, for_display, is_token_shaped
from app.tokens import oauth_entry

if TYPE_CHECKING:
    import httpx

    from app.flows.device import DeviceCode, DeviceSpec, PollAnswer

NAME = "GitHub Copilot"
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
API_VERSION = "2026-06-01"
GITHUB_DOMAIN = "github.com"
COPILOT_DEFAULT_API = "https://api.individual.githubcopilot.com"
COPILOT_HEADERS = {
    "User-Agent": "GitHubCopilotChat/0.35.0",
    "Editor-Version": "vscode/1.107.0",
    "Editor-Plugin-Version": "copilot-chat/0.35.0",
    "Copilot-Integration-Id": "vscode-chat",
}
CHAT_INTENT = "conversation-edits"
INITIATORS = ("user", "agent")
# Requests to these paths are model calls; they get the chat headers.
CHAT_PATH_SUFFIXES = ("/chat/completions", "/responses", "/v1/messages")
DEFAULT_TOKEN_LIFETIME_S = 1800.0


def _log() -> Any:
    import logging  # not on the `pi-tui status` path, which reads this module's status rows

    return logging.getLogger("pi_tui.copilot")


class Endpoints(NamedTuple):
    """The ``PI_TUI_GITHUB_*``/``PI_TUI_COPILOT_API_URL`` overrides; None means "derive it from the host"."""

    github: str | None = None
    github_api: str | None = None
    copilot_api: str | None = None

    def github_base(self, domain: str) -> str:
        """Base for the device code and polling requests."""
        return self.github or f"https://{domain}"

    def github_api_base(self, domain: str) -> str:
        """Base for the Copilot token exchange and ``/user``."""
        return self.github_api or f"https://api.{domain}"


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        github=optional_override(env, "PI_TUI_GITHUB_URL"),
        github_api=optional_override(env, "PI_TUI_GITHUB_API_URL"),
        copilot_api=optional_override(env, "PI_TUI_COPILOT_API_URL"),
    )


# -- the Enterprise host ---------------------------------------------------------------

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
    import ipaddress  # only for an Enterprise host: the status panel loads this module too

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


def api_base_url(token: str, enterprise_url: object = None, *, endpoints: Endpoints) -> str:
    """The Copilot API base, in this order: the override, the token's ``proxy-ep``,
    ``https://copilot-api.{domain}`` for Enterprise, ``https://api.individual.githubcopilot.com``.
    """
    if endpoints.copilot_api:
        return endpoints.copilot_api
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


# -- small helpers ---------------------------------------------------------------------


def copilot_expires_ms(expires_at: object, *, now_ms: int) -> int:
    """pi's ``expires`` for a Copilot token: ``expires_at`` (epoch s) × 1000 − 5 min.

    A missing or garbage ``expires_at`` counts as the usual 30-minute lifetime.
    """
    at = finite_number(expires_at)
    lifetime = at - now_ms / 1000 if at is not None and at > 0 else DEFAULT_TOKEN_LIFETIME_S
    return expires_at_ms(lifetime, now_ms=now_ms)


def server_name(domain: str) -> str:
    """How messages name the GitHub server."""
    return "GitHub" if domain == GITHUB_DOMAIN else f"GitHub Enterprise ({domain})"


def copilot_headers(token: str) -> dict[str, str]:
    """The headers every Copilot API request carries."""
    return {**COPILOT_HEADERS, "Authorization": f"Bearer {token}"}


def copilot_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """The Copilot API base for a stored entry."""
    return api_base_url(str(entry.get("access") or ""), entry.get("enterpriseUrl"), endpoints=endpoints)


def stored_domain(entry: Mapping[str, Any]) -> str:
    """The GitHub host a stored login belongs to (``enterpriseUrl``, else github.com)."""
    raw = entry.get("enterpriseUrl")
    if not raw:
        return GITHUB_DOMAIN
    try:
        return normalize_domain(str(raw)) or GITHUB_DOMAIN
    except AuthError:
        raise RefreshError(
            f"The stored GitHub Enterprise host ({for_display(raw, limit=80)}) is not a host name; "
            "log in to GitHub Copilot again."
        ) from None


# -- device flow -----------------------------------------------------------------------


_ERROR_SENTENCES = {
    "expired_token": "The code expired before it was approved; start again.",
    "access_denied": (
        "The login was denied on GitHub (Cancel was chosen on the device page). Start again to retry."
    ),
    "device_flow_disabled": (
        "{server} has device login turned off for this app, so pi-tui cannot log in there. "
        "Ask the GitHub administrator to enable device flow."
    ),
    "incorrect_device_code": "{server} no longer recognises this login's code; start again.",
    "incorrect_client_credentials": (
        "{server} does not know pi-tui's app ({client_id}); check the Enterprise host name."
    ),
    "unsupported_grant_type": "{server} does not support the device login; check the Enterprise host name.",
}


def device_flow_error(error: str, description: str, *, status: int, domain: str) -> DeviceFlowError:
    """The sentence for a device-flow error code (known ones by name, others with their description)."""
    server = server_name(domain)
    template = _ERROR_SENTENCES.get(error)
    if template is not None:
        return DeviceFlowError(template.format(server=server, client_id=CLIENT_ID))
    if not error and status == 404:
        return DeviceFlowError(
            f"{server} has no device login here (HTTP 404); check the Enterprise host name."
        )
    detail = for_display(description or error or f"HTTP {status}", limit=200)
    return DeviceFlowError(f"{server} stopped the login ({detail}). Start again.")


async def request_device_code(client: httpx.AsyncClient, endpoints: Endpoints, domain: str) -> DeviceCode:
    """Ask GitHub for a device code and user code; DeviceFlowError with a sentence if refused."""
    from app.flows.device import (
        DeviceCode,
        clamp_expires_in,
        clamp_interval,
        clean_user_code,
        clean_verification_uri,
    )

    response = await request_json(
        client,
        "POST",
        f"{endpoints.github_base(domain)}/login/device/code",
        what=server_name(domain),
        data={"client_id": CLIENT_ID, "scope": SCOPE},
        headers={"Accept": "application/json"},
    )
    error, description = oauth_error(response.data)
    if error or response.status >= 400:
        raise device_flow_error(error, description, status=response.status, domain=domain)
    data = response.data if isinstance(response.data, dict) else {}
    device_code = data.get("device_code")
    if not isinstance(device_code, str) or not device_code or not device_code.isprintable():
        raise DeviceFlowError(f"{server_name(domain)}'s answer had no device code; start again.")
    return DeviceCode(
        device_code=device_code,
        user_code=clean_user_code(data.get("user_code"), server="GitHub"),
        verification_uri=clean_verification_uri(data.get("verification_uri"), server="GitHub"),
        expires_in=clamp_expires_in(data.get("expires_in")),
        interval=clamp_interval(data.get("interval")),
    )


# -- Copilot token, account, models ----------------------------------------------------


async def exchange_copilot_token(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    domain: str,
    github_token: str,
    *,
    account: str | None = None,
) -> tuple[str, object]:
    """Trade the GitHub token for a Copilot token; ``(token, expires_at)``. RefreshError on refusal.

    ``account`` (the GitHub login, if known) names whose access is missing in that sentence.
    """
    response = await request_json(
        client,
        "GET",
        f"{endpoints.github_api_base(domain)}/copilot_internal/v2/token",
        what=server_name(domain),
        headers={**copilot_headers(github_token), "Accept": "application/json"},
    )
    data = response.data if isinstance(response.data, dict) else {}
    if response.status == 401:
        raise RefreshError("GitHub login revoked or expired: log in again.", revoked=True)
    if response.status in (403, 404):
        detail = data.get("message")
        said = for_display(detail, limit=160).rstrip(". ") if isinstance(detail, str) else ""
        shown = f" ({server_name(domain)} says: {said})" if said else ""
        whose = f"The GitHub account @{account}" if account else "This GitHub account"
        raise RefreshError(
            f"{whose} has no Copilot access{shown}. Check the subscription at "
            f"https://{domain}/settings/copilot, then log in again.",
            revoked=False,
        )
    if response.status >= 400:
        error, description = oauth_error(data)
        detail = for_display(description or error or data.get("message") or f"HTTP {response.status}")
        raise RefreshError(f"{server_name(domain)} refused the Copilot token ({detail}); try again later.")
    token = data.get("token")
    if not is_token_shaped(token):
        raise NetworkError(
            f"{server_name(domain)}'s answer had no usable Copilot token; try again in a moment."
        )
    return str(token), data.get("expires_at")


def build_entry(
    previous: dict[str, Any] | None,
    *,
    github_token: str,
    copilot_token: str,
    expires_at: object,
    now_ms: int,
) -> dict[str, Any]:
    """pi's stored entry; every other key of ``previous`` (enterpriseUrl, login, …) is kept."""
    expires = copilot_expires_ms(expires_at, now_ms=now_ms)
    return oauth_entry(previous, access=copilot_token, refresh=github_token, expires=expires)


async def fetch_login(
    client: httpx.AsyncClient, endpoints: Endpoints, domain: str, github_token: str
) -> str | None:
    """The GitHub account name (``/user`` → ``login``), cleaned for the screen; None if absent."""
    response = await request_json(
        client,
        "GET",
        f"{endpoints.github_api_base(domain)}/user",
        what=server_name(domain),
        headers={"Authorization": f"Bearer {github_token}", "Accept": "application/vnd.github+json"},
    )
    data = response.data if isinstance(response.data, dict) else {}
    if response.status >= 400:
        raise AuthError(f"{server_name(domain)} did not say who is logged in (HTTP {response.status}).")
    login = data.get("login")
    cleaned = for_display(login, limit=100) if isinstance(login, str) else ""
    return cleaned or None


async def list_models(client: httpx.AsyncClient, base: str, token: str) -> list[dict[str, Any]]:
    """The models this Copilot subscription offers (``GET {base}/models``)."""
    data = await authorized_field(
        client,
        f"{base}/models",
        what="GitHub Copilot",
        headers={**copilot_headers(token), "X-GitHub-Api-Version": API_VERSION},
    )
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]


async def enable_model(client: httpx.AsyncClient, base: str, token: str, model_id: str) -> bool:
    """Turn on one model's policy (``{"state": "enabled"}``); True if Copilot accepted."""
    try:
        response = await request_json(
            client,
            "POST",
            f"{base}/models/{quote(model_id, safe='')}/policy",
            what="GitHub Copilot",
            json={"state": "enabled"},
            headers={
                **copilot_headers(token),
                "Openai-Intent": "chat-policy",
                "X-Interaction-Type": "chat-policy",
            },
        )
    except NetworkError as exc:
        _log().warning("could not enable model %s: %s", for_display(model_id, limit=80), exc)
        return False
    if response.status >= 400:
        _log().warning("enabling model %s: HTTP %s", for_display(model_id, limit=80), response.status)
        return False
    return True


def _policy_enabled(model: dict[str, Any]) -> bool:
    policy = model.get("policy")
    return isinstance(policy, dict) and policy.get("state") == "enabled"


async def refresh(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    entry: dict[str, Any],
    *,
    now_ms: int,
) -> dict[str, Any]:
    """A new Copilot token for the stored GitHub token; the entry's other keys are kept.

    RefreshError(revoked=True) when GitHub no longer accepts the GitHub token (401),
    revoked=False when the account has no Copilot access (403/404). Never deletes anything.
    """
    domain = stored_domain(entry)
    login = entry.get("login") if isinstance(entry.get("login"), str) else None
    token, expires_at = await exchange_copilot_token(
        client, endpoints, domain, str(entry["refresh"]), account=login
    )
    return build_entry(
        entry, github_token=str(entry["refresh"]), copilot_token=token, expires_at=expires_at, now_ms=now_ms
    )


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request (the model list); returns e.g. "OK: 4 models available"."""
    models = await list_models(client, copilot_base(endpoints, entry), str(entry["access"]))
    noun = "model" if len(models) == 1 else "models"
    return CallResult(f"OK: {len(models)} {noun} available.")


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The Enterprise host (when there is one) and the Copilot API base."""
    rows = []
    host = entry.get("enterpriseUrl")
    if isinstance(host, str) and host:
        rows.append(("Enterprise", for_display(host, limit=100)))
    rows.append(("API base", copilot_base(endpoints, entry)))
    return rows


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where Copilot API requests go for this login (``base_url`` of an httpx client)."""
    return copilot_base(endpoints, entry)


def auth_headers(endpoints: Endpoints, entry: Mapping[str, Any]) -> dict[str, str]:
    """The editor headers and the Copilot token, on every request."""
    return copilot_headers(str(entry["access"]))


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """:class:`app.auth.PiAuth` options: ``initiator`` ("user"/"agent") and ``vision`` (bool)."""
    unknown = set(options) - {"initiator", "vision", "chat"}
    if unknown:
        raise ValueError(f"GitHub Copilot requests take initiator, vision and chat, not {sorted(unknown)}")
    checked = dict(options)
    if "initiator" in checked:
        checked["initiator"] = _check_initiator(checked["initiator"])
    return checked


def request_headers(path: str, options: Mapping[str, Any]) -> dict[str, str]:
    """Model calls (a chat path, or ``chat=True``) also carry intent, initiator and vision.

    ``options`` merges the PiAuth options with the request's ``extensions={"pi_tui": …}``

    """
    if not options.get("chat", path.endswith(CHAT_PATH_SUFFIXES)):
        return {}
    headers = {
        "Openai-Intent": CHAT_INTENT,
        "X-Initiator": _check_initiator(options.get("initiator", "user")),
    }
    if options.get("vision"):
        headers["Copilot-Vision-Request"] = "true"
    return headers


def _check_initiator(value: object) -> str:
    if value not in INITIATORS:
        raise ValueError(f"X-Initiator must be 'user' or 'agent', not {value!r}")
    return str(value)


# -- login -----------------------------------------------------------------------------


def check_answer(question_id: str, text: str) -> str:
    """The "host" answer as a host name ("" for github.com); LoginInputError says what to fix."""
    return normalize_domain(text) or ""


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> DeviceSpec:
    """The device flow against github.com or the Enterprise host in ``answers["host"]``."""
    from app.flows.device import DeviceSpec, token_poll

    domain = normalize_domain(answers.get("host", "")) or GITHUB_DOMAIN
    # Polled as RFC 8628 says; GitHub answers its errors with HTTP 200 or 4xx.
    token_url = f"{endpoints.github_base(domain)}/login/oauth/access_token"
    token = TokenEndpoint(server_name(domain), token_url, CLIENT_ID)

    async def request_code(client: httpx.AsyncClient) -> DeviceCode:
        return await request_device_code(client, endpoints, domain)

    async def finish(
        client: httpx.AsyncClient, answer: PollAnswer, now_ms: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        return await finish_login(client, endpoints, domain, str(answer.data["access_token"]), now_ms=now_ms)

    def error(code: str, description: str) -> AuthError:
        return device_flow_error(code, description, status=200, domain=domain)

    return DeviceSpec(
        provider=NAME,
        title=f"Log in to {NAME} ({domain})",
        request_code=request_code,
        poll=token_poll(token, missing="the answer had neither a token nor an error"),
        finish=finish,
        error=error,
        server=server_name(domain),
    )


async def finish_login(
    client: httpx.AsyncClient, endpoints: Endpoints, domain: str, github_token: str, *, now_ms: int
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Account name, Copilot token, model policies. Only the Copilot token can fail the login."""
    # The account first, so "no Copilot access" can say whose account it is.
    try:
        account = await fetch_login(client, endpoints, domain, github_token)
    except AuthError as exc:
        _log().warning("no account name for the Copilot login: %s", exc)
        account = None
    token, expires_at = await exchange_copilot_token(client, endpoints, domain, github_token, account=account)
    entry = build_entry(
        None, github_token=github_token, copilot_token=token, expires_at=expires_at, now_ms=now_ms
    )
    if domain != GITHUB_DOMAIN:
        entry["enterpriseUrl"] = domain
    if account:
        entry["login"] = account
    listed, enabled = await enable_models(client, copilot_base(endpoints, entry), token)
    details = (f"Copilot models enabled: {enabled} of {listed}.",) if listed else ()
    return entry, details


async def enable_models(client: httpx.AsyncClient, base: str, token: str) -> tuple[int, int]:
    """Turn on every model policy not yet enabled; ``(models listed, models enabled)``. Never fails."""
    import asyncio

    try:
        models = await list_models(client, base, token)
    except AuthError as exc:
        _log().warning("could not list Copilot models: %s", exc)
        return 0, 0
    todo = [m["id"] for m in models if not _policy_enabled(m)]
    results = await asyncio.gather(*(enable_model(client, base, token, model) for model in todo))
    enabled = len(models) - len(todo) + sum(results)
    _log().info("Copilot models: %d listed, %d enabled", len(models), enabled)
    return len(models), enabled


# -- reusing a GitHub token another Copilot client saved --------------------------------

REUSE_FILES = ("apps.json", "hosts.json")
REUSE_PREFIX = "reuse-"


class SavedToken(NamedTuple):
    """A github.com token of pi's GitHub app that another Copilot client (VS Code, Vim, the CLI) saved."""

    offer_id: str
    path: str
    user: str
    token: str

    def __repr__(self) -> str:
        return f"SavedToken(path={self.path!r}, user={self.user!r})"


def _config_dirs(env: Mapping[str, str]) -> list[str]:
    """Where Copilot clients keep ``apps.json``/``hosts.json``, from ``env`` only (tests pass tmp dirs)."""
    import os.path

    dirs = []
    if env.get("XDG_CONFIG_HOME"):
        dirs.append(os.path.join(env["XDG_CONFIG_HOME"], "github-copilot"))
    if env.get("HOME"):
        dirs.append(os.path.join(env["HOME"], ".config", "github-copilot"))
    if env.get("LOCALAPPDATA"):  # Windows
        dirs.append(os.path.join(env["LOCALAPPDATA"], "github-copilot"))
    return list(dict.fromkeys(dirs))


def _tokens_in(name: str, doc: object) -> list[tuple[str, str]]:
    """``(user, token)`` for every github.com entry of pi's GitHub app in one file's JSON."""
    if not isinstance(doc, dict):
        return []
    found = []
    for key, value in doc.items():
        if not isinstance(key, str) or not isinstance(value, dict):
            continue
        host, _, app_id = key.partition(":")
        if host != GITHUB_DOMAIN:
            continue  # GitHub Enterprise logins are not offered
        stated = value.get("githubAppId")
        if name == "apps.json" and app_id != CLIENT_ID:
            continue
        if name == "hosts.json" and app_id:
            continue
        if stated is not None and stated != CLIENT_ID:
            continue  # another GitHub app's token would not work with pi's client id
        token, user = value.get("oauth_token"), value.get("user")
        if is_token_shaped(token):
            found.append((for_display(user, limit=60) if isinstance(user, str) else "", str(token)))
    return found


def saved_tokens(env: Mapping[str, str]) -> list[SavedToken]:
    """The reusable tokens on this machine, each file once and each token once. Only reads."""
    import hashlib
    import json
    import os.path

    found: list[SavedToken] = []
    seen: set[str] = set()
    for directory in _config_dirs(env):
        for name in REUSE_FILES:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    doc = json.loads(handle.read(1_000_000))
            except (OSError, ValueError, RecursionError):
                continue
            for user, token in _tokens_in(name, doc):
                if token in seen:
                    continue
                seen.add(token)
                digest = hashlib.sha256(f"{path}\0{user}".encode()).hexdigest()[:12]
                found.append(SavedToken(f"{REUSE_PREFIX}{digest}", path, user, token))
    return found


def _shown_path(path: str, env: Mapping[str, str]) -> str:
    home = env.get("HOME")
    if home and path.startswith(home.rstrip("/") + "/"):
        path = "~/" + path[len(home.rstrip("/")) + 1 :]
    return for_display(path, limit=120)


def offers(env: Mapping[str, str], answers: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(id, label)`` of every saved token to offer (github.com only); used only if chosen."""
    if answers.get("host"):
        return []
    offered = []
    for saved in saved_tokens(env):
        who = f" (@{saved.user})" if saved.user else ""
        offered.append((saved.offer_id, f"Use the token from {_shown_path(saved.path, env)}{who}"))
    return offered


async def use_offer(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    offer_id: str,
    env: Mapping[str, str],
    *,
    now_ms: int,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The login for a chosen saved token: only once GitHub has traded it for a Copilot token.

    A refused token is AuthError with a sentence; the caller saves nothing then.
    """
    saved = next((s for s in saved_tokens(env) if s.offer_id == offer_id), None)
    if saved is None:
        raise LoginInputError("That saved GitHub token is no longer there; log in with the device code.")
    where = _shown_path(saved.path, env)
    try:
        return await finish_login(client, endpoints, GITHUB_DOMAIN, saved.token, now_ms=now_ms)
    except RefreshError as exc:
        why = "it was revoked or has expired" if exc.revoked else "no Copilot access for that account"
        raise AuthError(
            f"GitHub refused the token from {where} ({why}); nothing was saved. "
            "Log in with the device code instead."
        ) from None


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage_from_headers = None


# -- subscription usage (PROVIDERS.md §11) --------------------------------------------------

USAGE_QUOTAS = (("premium_interactions", "premium"), ("chat", "chat"), ("completions", "completions"))


async def usage(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> Usage:
    """``GET {github_api}/copilot_internal/user`` with the GitHub token: the monthly quotas.

    Paid plans list ``quota_snapshots``; the free tier ``limited_user_quotas`` (what is left)
    against ``monthly_quotas``. An unlimited quota is no window, only a note.
    """
    from app.providers import usage_fields as f

    domain = stored_domain(entry)
    headers = {**COPILOT_HEADERS, "Authorization": f"token {entry['refresh']}"}
    url = f"{endpoints.github_api_base(domain)}/copilot_internal/user"
    data = await f.get_usage_json(client, url, what=server_name(domain), headers=headers)
    resets = f.iso_ms(data.get("quota_reset_date")) if isinstance(data, dict) else None
    windows: list[UsageWindow] = []
    unlimited: list[str] = []
    snapshots = f.obj(data, "quota_snapshots")
    for key, name in USAGE_QUOTAS:
        quota = f.obj(snapshots, key)
        if quota.get("unlimited") is True:
            unlimited.append(name)
            continue
        left = f.percent(quota.get("percent_remaining"))
        used = 100.0 - left if left is not None else None
        if used is None:
            entitlement = f.number(quota.get("entitlement"))
            remaining = f.number(quota.get("remaining"))
            if entitlement is not None and remaining is not None:
                used = f.used_percent(entitlement - remaining, entitlement)
        if used is not None:
            windows.append(UsageWindow(name, used, resets))
    free_left, free_total = f.obj(data, "limited_user_quotas"), f.obj(data, "monthly_quotas")
    free_resets = f.iso_ms(data.get("limited_user_reset_date")) if isinstance(data, dict) else None
    for key in ("chat", "completions"):
        remaining, total = f.number(free_left.get(key)), f.number(free_total.get(key))
        if remaining is not None and total is not None and all(w.name != key for w in windows):
            used = f.used_percent(total - remaining, total)
            if used is not None:
                windows.append(UsageWindow(key, used, free_resets or resets))
    plan = f.text(data.get("copilot_plan")) if isinstance(data, dict) else None
    notes = (f"unlimited: {', '.join(unlimited)}",) if unlimited and (windows or plan) else ()
    return Usage(windows=tuple(windows), plan=plan, notes=notes)
