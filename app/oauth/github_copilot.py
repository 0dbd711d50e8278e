"""GitHub Copilot: device flow (RFC 8628), Copilot token exchange, model policies, httpx.Auth.

The stored login is pi's: ``refresh`` is the GitHub token, ``access`` the short-lived Copilot
token, and "refreshing" means trading the GitHub token for a new Copilot token.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from app.errors import AuthError, DeviceFlowError, LoginCancelled, NetworkError, RefreshError
from app.mask import mask
from app.oauth.copilot_urls import api_base_url, normalize_domain
from app.oauth.endpoints import GITHUB_DOMAIN, Endpoints
from app.oauth.expiry import expires_at_ms
from app.oauth.http import oauth_error, request_json
from app.sanitize import for_display, is_token_shaped, strip_escapes

if TYPE_CHECKING:
    from app.oauth.service import AuthService, LoginResult
    from app.store import CredentialStore

__all__ = [
    "CopilotAuth",
    "CopilotLogin",
    "PollEvent",
    "api_base_url",
    "normalize_domain",
    "refresh",
    "test",
]

T = TypeVar("T")

PROVIDER_ID = "github-copilot"
DISPLAY_NAME = "GitHub Copilot"
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
API_VERSION = "2026-06-01"
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

DEFAULT_INTERVAL_S = 5.0
MAX_INTERVAL_S = 60.0
SLOW_DOWN_STEP_S = 5.0
DEFAULT_CODE_LIFETIME_S = 900.0
MAX_CODE_LIFETIME_S = 3600.0
DEFAULT_TOKEN_LIFETIME_S = 1800.0
MAX_USER_CODE = 32

log = logging.getLogger("pi_tui.copilot")

PollKind = Literal["waiting", "slow_down", "done"]


# -- small helpers ---------------------------------------------------------------------


def _number(value: object) -> float | None:
    """A finite number from a JSON value (numbers and numeric strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def clamp_interval(value: object) -> float:
    """The poll interval to use for what the server sent: 5 s if absurd, at most 60 s."""
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return DEFAULT_INTERVAL_S
    return min(seconds, MAX_INTERVAL_S)


def clamp_expires_in(value: object) -> float:
    """How long the device code lives: 900 s if absurd, at most an hour."""
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return DEFAULT_CODE_LIFETIME_S
    return min(seconds, MAX_CODE_LIFETIME_S)


def next_interval(current: float, server_interval: object) -> float:
    """The interval after ``slow_down``: 5 s more, or the server's larger (sane) interval."""
    suggested = _number(server_interval)
    bigger = current + SLOW_DOWN_STEP_S
    if suggested is not None and bigger < suggested <= MAX_INTERVAL_S:
        return suggested
    return bigger


def copilot_expires_ms(expires_at: object, *, now_ms: int) -> int:
    """pi's ``expires`` for a Copilot token: ``expires_at`` (epoch s) × 1000 − 5 min.

    A missing or garbage ``expires_at`` counts as the usual 30-minute lifetime.
    """
    at = _number(expires_at)
    lifetime = at - now_ms / 1000 if at is not None and at > 0 else DEFAULT_TOKEN_LIFETIME_S
    return expires_at_ms(lifetime, now_ms=now_ms)


def server_name(domain: str) -> str:
    """How messages name the GitHub server."""
    return "GitHub" if domain == GITHUB_DOMAIN else f"GitHub Enterprise ({domain})"


def copilot_headers(token: str) -> dict[str, str]:
    """The headers every Copilot API request carries."""
    return {**COPILOT_HEADERS, "Authorization": f"Bearer {token}"}


def copilot_base(endpoints: Endpoints, entry: dict[str, Any]) -> str:
    """The Copilot API base for a stored entry."""
    return api_base_url(str(entry.get("access") or ""), entry.get("enterpriseUrl"), endpoints=endpoints)


def stored_domain(entry: dict[str, Any]) -> str:
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


@dataclass(frozen=True)
class DeviceCode:
    """GitHub's answer to the device code request, checked and cleaned for the screen."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float


@dataclass(frozen=True)
class PollAnswer:
    """One answer of the token endpoint: a GitHub token, or an error code."""

    token: str | None = field(default=None, repr=False)
    error: str = ""
    description: str = ""
    interval: object = None


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


def _clean_user_code(value: object) -> str:
    code = strip_escapes(value).strip() if isinstance(value, str) else ""
    if not code or len(code) > MAX_USER_CODE or not code.isprintable():
        raise DeviceFlowError("GitHub sent a login code that cannot be shown; start again.")
    return code


def _clean_verification_uri(value: object) -> str:
    uri = strip_escapes(value).strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    unusable = parts is None or not host or len(uri) > 2048 or not uri.isprintable() or " " in uri
    if unusable or parts is None or parts.scheme.lower() not in ("http", "https"):
        shown = for_display(uri, limit=80) or "nothing"
        raise DeviceFlowError(
            f"GitHub sent a verification address that is not a web link ({shown!r}); "
            "pi-tui will not open it. Start again."
        )
    return uri


async def request_device_code(client: httpx.AsyncClient, endpoints: Endpoints, domain: str) -> DeviceCode:
    """Ask GitHub for a device code and user code; DeviceFlowError with a sentence if refused."""
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
        user_code=_clean_user_code(data.get("user_code")),
        verification_uri=_clean_verification_uri(data.get("verification_uri")),
        expires_in=clamp_expires_in(data.get("expires_in")),
        interval=clamp_interval(data.get("interval")),
    )


async def poll_token(
    client: httpx.AsyncClient, endpoints: Endpoints, domain: str, device_code: str
) -> PollAnswer:
    """Ask once whether the user has approved; GitHub answers errors with HTTP 200 or 4xx."""
    response = await request_json(
        client,
        "POST",
        f"{endpoints.github_base(domain)}/login/oauth/access_token",
        what=server_name(domain),
        data={"client_id": CLIENT_ID, "device_code": device_code, "grant_type": DEVICE_GRANT_TYPE},
        headers={"Accept": "application/json"},
    )
    data = response.data if isinstance(response.data, dict) else {}
    error, description = oauth_error(data)
    token = data.get("access_token")
    if not error and response.status < 400 and is_token_shaped(token):
        return PollAnswer(token=str(token))
    if not error and response.status < 400:
        error, description = "no_token", "the answer had neither a token nor an error"
    return PollAnswer(error=error, description=description, interval=data.get("interval"))


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
    entry = dict(previous or {})
    entry.update(
        type="oauth",
        refresh=github_token,
        access=copilot_token,
        expires=copilot_expires_ms(expires_at, now_ms=now_ms),
    )
    return entry


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
    response = await request_json(
        client,
        "GET",
        f"{base}/models",
        what="GitHub Copilot",
        headers={**copilot_headers(token), "X-GitHub-Api-Version": API_VERSION},
    )
    if response.status in (401, 403):
        raise AuthError(
            f"GitHub Copilot rejected the token (HTTP {response.status}). "
            "Press r to refresh, or log in again."
        )
    data = response.data.get("data") if isinstance(response.data, dict) else None
    if response.status >= 400 or not isinstance(data, list):
        raise AuthError(f"GitHub Copilot did not list its models (HTTP {response.status}).")
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
        log.warning("could not enable model %s: %s", for_display(model_id, limit=80), exc)
        return False
    if response.status >= 400:
        log.warning("enabling model %s: HTTP %s", for_display(model_id, limit=80), response.status)
        return False
    return True


def _policy_enabled(model: dict[str, Any]) -> bool:
    policy = model.get("policy")
    return isinstance(policy, dict) and policy.get("state") == "enabled"


# -- provider functions used by AuthService --------------------------------------------


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


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> str:
    """One real request (the model list); returns e.g. "OK: 4 models available"."""
    models = await list_models(client, copilot_base(endpoints, entry), str(entry["access"]))
    noun = "model" if len(models) == 1 else "models"
    return f"OK: {len(models)} {noun} available."


# -- login -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PollEvent:
    """One step of the polling: still waiting, told to slow down, or done (with the result)."""

    kind: PollKind
    interval: float
    polls: int
    result: LoginResult | None = None


class CopilotLogin:
    """One device login: show :attr:`user_code` and :attr:`verification_uri`, then iterate :meth:`poll`.

    :meth:`aclose` (Esc) stops it at once: a wait or a request in flight is abandoned, nothing
    more is sent, and :meth:`poll` raises LoginCancelled.
    """

    def __init__(self, service: AuthService, domain: str, code: DeviceCode, *, started_ms: int) -> None:
        self.service = service
        self.domain = domain
        self.enterprise = domain != GITHUB_DOMAIN
        self.user_code = code.user_code
        self.verification_uri = code.verification_uri
        self.expires_at_ms = started_ms + int(code.expires_in * 1000)
        self.interval = code.interval
        self.polls = 0
        self.result: LoginResult | None = None
        # Filled in after approval; shown by the UI, not stored (pi does not know these keys).
        self.models: tuple[str, ...] = ()
        self.models_enabled = 0
        self._device_code = code.device_code
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._polling = False

    def __repr__(self) -> str:
        return f"CopilotLogin(domain={self.domain!r}, user_code={self.user_code!r}, polls={self.polls})"

    @classmethod
    async def start(cls, service: AuthService, domain: str | None) -> CopilotLogin:
        """Ask GitHub (``domain`` None or blank: github.com) for a code to show the user."""
        host = normalize_domain(domain or "") or GITHUB_DOMAIN
        async with service.client() as client:
            code = await request_device_code(client, service.endpoints, host)
        log.info("device login started on %s (code %s)", host, code.user_code)
        return cls(service, host, code, started_ms=service.now_ms())

    @property
    def cancelled(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._stop.is_set()

    async def poll(self) -> AsyncIterator[PollEvent]:
        """Poll until approved (RFC 8628), yielding an event after every answer.

        Waits :attr:`interval` (× ``service.poll_scale``) before every poll, the first included.
        The last event is ``done`` with the LoginResult; errors raise DeviceFlowError,
        AuthError or NetworkError; :meth:`aclose` makes it raise LoginCancelled.
        """
        if self._polling:
            raise RuntimeError("this login is already being polled")
        self._polling = True
        try:
            async for event in self._poll_loop():
                yield event
        finally:
            self._polling = False

    async def _poll_loop(self) -> AsyncGenerator[PollEvent, None]:
        while True:
            await self._wait(self.interval * self.service.poll_scale)
            answer = await self._unless_stopped(self._ask())
            self.polls += 1
            if answer.token is not None:
                self.result = await self._unless_stopped(self._finish(answer.token))
                yield PollEvent("done", self.interval, self.polls, self.result)
                return
            if answer.error == "authorization_pending":
                yield PollEvent("waiting", self.interval, self.polls)
            elif answer.error == "slow_down":
                self.interval = next_interval(self.interval, answer.interval)
                log.info("GitHub asked to slow down; polling every %.0f s", self.interval)
                yield PollEvent("slow_down", self.interval, self.polls)
            else:
                raise device_flow_error(answer.error, answer.description, status=200, domain=self.domain)

    async def aclose(self) -> None:
        """Stop polling now; returns once no request of this login is in flight."""
        self._stop.set()
        await self._idle.wait()

    def _expired(self) -> DeviceFlowError:
        return device_flow_error("expired_token", "", status=200, domain=self.domain)

    async def _wait(self, seconds: float) -> None:
        if self._stop.is_set():
            raise LoginCancelled("The login was cancelled.")
        if self.service.now_ms() >= self.expires_at_ms:
            raise self._expired()
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass
        else:
            raise LoginCancelled("The login was cancelled.")
        if self.service.now_ms() >= self.expires_at_ms:
            raise self._expired()

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        """Run ``work`` unless :meth:`aclose` comes first; then it is cancelled mid-flight."""
        if self._stop.is_set():
            if isinstance(work, Coroutine):
                work.close()
            raise LoginCancelled("The login was cancelled.")
        self._idle.clear()
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            self._idle.set()
        if task.cancelled():
            raise LoginCancelled("The login was cancelled.")
        return task.result()

    async def _ask(self) -> PollAnswer:
        async with self.service.client() as client:
            return await poll_token(client, self.service.endpoints, self.domain, self._device_code)

    async def _finish(self, github_token: str) -> LoginResult:
        """Copilot token, account name, model policies, then save. Only the first two can fail."""
        service, endpoints = self.service, self.service.endpoints
        async with service.client() as client:
            # The account first, so "no Copilot access" can say whose account it is.
            try:
                login = await fetch_login(client, endpoints, self.domain, github_token)
            except AuthError as exc:
                log.warning("no account name for the Copilot login: %s", exc)
                login = None
            token, expires_at = await exchange_copilot_token(
                client, endpoints, self.domain, github_token, account=login
            )
            entry = build_entry(
                None,
                github_token=github_token,
                copilot_token=token,
                expires_at=expires_at,
                now_ms=service.now_ms(),
            )
            if self.enterprise:
                entry["enterpriseUrl"] = self.domain
            if login:
                entry["login"] = login
            await self._enable_models(client, copilot_base(endpoints, entry), token)
        return await service.save_login(PROVIDER_ID, entry)

    async def _enable_models(self, client: httpx.AsyncClient, base: str, token: str) -> None:
        try:
            models = await list_models(client, base, token)
        except AuthError as exc:
            log.warning("could not list Copilot models: %s", exc)
            return
        self.models = tuple(m["id"] for m in models)
        todo = [m["id"] for m in models if not _policy_enabled(m)]
        results = await asyncio.gather(*(enable_model(client, base, token, model) for model in todo))
        self.models_enabled = len(models) - len(todo) + sum(results)
        log.info("Copilot models: %d listed, %d enabled", len(models), self.models_enabled)


# -- using the token -------------------------------------------------------------------


class CopilotAuth(httpx.Auth):
    """Signs Copilot API requests: editor headers, a fresh Copilot token, one retry on 401.

    The token comes from the store through :meth:`AuthService.get_token` (refreshed under the
    store lock when due). A 401 forces one refresh — unless another process already stored a
    newer token — and the request is sent once more. Requests to a chat path
    (``…/chat/completions``, ``…/responses``, ``…/v1/messages``) also get ``Openai-Intent``,
    ``X-Initiator`` and, when asked, ``Copilot-Vision-Request``. Per request, pass
    ``extensions={"copilot": {"initiator": "agent", "vision": True, "chat": True}}`` to override.
    """

    requires_request_body = True  # the body must be replayable for the retry

    def __init__(
        self,
        service: AuthService,
        provider_id: str = PROVIDER_ID,
        *,
        initiator: str = "user",
        vision: bool = False,
    ) -> None:
        self.service = service
        self.provider_id = provider_id
        self.initiator = _check_initiator(initiator)
        self.vision = vision

    @classmethod
    def from_store(
        cls,
        store: CredentialStore,
        *,
        endpoints: Endpoints | None = None,
        provider_id: str = PROVIDER_ID,
        initiator: str = "user",
        vision: bool = False,
    ) -> CopilotAuth:
        """Build one over ``store`` (and ``endpoints``) without an AuthService at hand."""
        from app.oauth.service import AuthService
        from app.state import BY_LIBRARY

        service = AuthService(store, endpoints=endpoints, actor=BY_LIBRARY)
        return cls(service, provider_id, initiator=initiator, vision=vision)

    def base_url(self) -> str:
        """The Copilot API base for the stored login (no network)."""
        from app.providers import login_hint, provider

        entry = self.service.store.get(self.provider_id)
        if entry is None:
            from app.errors import NotLoggedIn

            raise NotLoggedIn(login_hint(provider(self.provider_id)))
        return copilot_base(self.service.endpoints, entry)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Sign, send, and on 401 refresh once and send again."""
        token = await self.service.get_token(self.provider_id)
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        log.info("Copilot answered 401 for token %s; refreshing once", mask(token))
        entry = await self.service._refresh(self.provider_id, seen={"access": token}, force=True)
        self._sign(request, str(entry["access"]))
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The same for ``httpx.Client``; the async service runs on a private loop in a thread."""
        token = _blocking(self.service.get_token(self.provider_id))
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        log.info("Copilot answered 401 for token %s; refreshing once", mask(token))
        entry = _blocking(self.service._refresh(self.provider_id, seen={"access": token}, force=True))
        self._sign(request, str(entry["access"]))
        yield request

    def _sign(self, request: httpx.Request, token: str) -> None:
        options = request.extensions.get("copilot") or {}
        request.headers.update(copilot_headers(token))
        chat = options.get("chat", request.url.path.endswith(CHAT_PATH_SUFFIXES))
        if not chat:
            return
        request.headers["Openai-Intent"] = CHAT_INTENT
        request.headers["X-Initiator"] = _check_initiator(options.get("initiator", self.initiator))
        if options.get("vision", self.vision):
            request.headers["Copilot-Vision-Request"] = "true"


def _check_initiator(value: object) -> str:
    if value not in INITIATORS:
        raise ValueError(f"X-Initiator must be 'user' or 'agent', not {value!r}")
    return str(value)


def _blocking(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to completion on a fresh event loop in a worker thread (safe inside a loop)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pi-tui-copilot") as pool:
        return pool.submit(asyncio.run, work).result()
