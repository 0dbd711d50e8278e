"""GitHub Copilot: GitHub's device flow (``/github``, ``/github-api``) and the Copilot API (``/copilot``).

Two parts on the fake: ``github`` (the device flow, ``/user``, and the Copilot token exchange at
``/github-api/copilot_internal/v2/token``) and ``copilot`` (``/models``, the policy POST, chat).
GitHub answers device-flow errors with HTTP 200 and form bodies unless asked for JSON; its tokens
never expire and are never refreshed.

GitHub settings (generic names): ``expires_in`` is the device code's lifetime here;
``usage_body`` is what ``/github-api/copilot_internal/user`` answers (``None`` = a Pro plan with
80 % of its premium requests left).
Copilot settings: ``mode`` (``"ok"``, ``"no_access"`` → 403, ``"not_found"`` → 404),
``token_lifetime`` (seconds, default 1800), ``proxy_ep`` (``None`` leaves it out of the token),
``models``. Observations: ``enabled_policies`` (model ids, in order, one per enabling call),
``chat_headers`` (one dict of the intent/initiator/vision headers per chat).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Any

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.spec import DeviceSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, as_seconds, bearer, field_of, json_reply, random_token

CLIENT_ID = "Iv1.b507a08c87ecfe98"
COPILOT_HEADERS = {
    "User-Agent": "GitHubCopilotChat/0.35.0",
    "Editor-Version": "vscode/1.107.0",
    "Editor-Plugin-Version": "copilot-chat/0.35.0",
    "Copilot-Integration-Id": "vscode-chat",
}
COPILOT_API_VERSION = "2026-06-01"
COPILOT_CHAT_HEADERS = ("openai-intent", "x-initiator", "copilot-vision-request")
_POLICY_PATH = "/copilot/models/(?P<model>[^/]+)/policy"


def _github_token_answer(fake: ProviderFake, session: Session, with_refresh: bool) -> dict[str, Any]:
    return {"access_token": session.access, "token_type": "bearer", "scope": "read:user"}


class GitHubFake(ProviderFake):
    """GitHub: ``expires_in`` means the device code's lifetime; tokens map to a login."""

    usage_body: Any = None  # what copilot_internal/user answers; None: default_copilot_user()

    @property  # type: ignore[override]
    def expires_in(self) -> Any:
        """The device code's lifetime in seconds (GitHub tokens themselves never expire)."""
        return self.device_expires_in

    @expires_in.setter
    def expires_in(self, value: Any) -> None:
        # The generic constructor sets the token lifetime here first; GitHub's is fixed.
        if hasattr(self, "device_expires_in"):
            self.device_expires_in = value

    def _renew_access(self, session: Session) -> None:
        self._by_access.pop(session.access, None)
        session.access = self.new_access(session)
        session.access_expires = float("inf")
        self._by_access[session.access] = session

    def seed_login(self, login: str | None = None) -> str:  # type: ignore[override]
        """Create a valid GitHub token for ``login`` directly and return it."""
        with self._lock:
            return self.new_session(login or self.account, "read:user").access

    def login_for(self, token: str | None) -> str | None:
        """The login a GitHub token belongs to, or ``None`` if it is not valid."""
        session = self.session_for(token)
        return session.account if session else None

    def handle_copilot_user(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/copilot_internal/user`` with ``Authorization: token <GitHub token>``."""
        if self.login_for(bearer(request.headers, ("token",))) is None:
            return _bad_credentials()
        return json_reply(200, self.usage_body if self.usage_body is not None else default_copilot_user())

    def handle_user(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/user``."""
        login = self.login_for(bearer(request.headers, ("bearer", "token")))
        if login is None:
            return _bad_credentials()
        return json_reply(200, {"login": login, "id": 1, "name": "The Octocat"})

    def handle_copilot_token(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/copilot_internal/v2/token`` (the Copilot part answers)."""
        copilot = self._peers["copilot"]
        assert isinstance(copilot, CopilotFake)
        return copilot.handle_token(request)


def default_copilot_user() -> dict[str, Any]:
    """A Copilot Pro user with 240 of 300 premium requests left, chat and completions unlimited."""
    reset = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 12 * 86400))
    unlimited = {"entitlement": 0, "remaining": 0, "percent_remaining": 100.0, "unlimited": True}
    return {
        "login": "octocat",
        "access_type_sku": "plus_monthly_subscriber_quota",
        "copilot_plan": "individual_pro",
        "chat_enabled": True,
        "quota_reset_date": reset,
        "quota_snapshots": {
            "chat": {**unlimited, "quota_id": "chat"},
            "completions": {**unlimited, "quota_id": "completions"},
            "premium_interactions": {
                "entitlement": 300,
                "remaining": 240,
                "percent_remaining": 80.0,
                "unlimited": False,
                "overage_permitted": False,
                "quota_id": "premium_interactions",
            },
        },
    }


def default_models() -> list[dict[str, Any]]:
    """The models ``GET /copilot/models`` lists unless a test sets ``fake.copilot.models``."""
    return [
        {"id": "gpt-4.1", "name": "GPT-4.1", "vendor": "Azure OpenAI"},
        {"id": "claude-sonnet-4.5", "name": "Claude Sonnet 4.5", "vendor": "Anthropic"},
        {"id": "gpt-5-mini", "name": "GPT-5 mini", "vendor": "Azure OpenAI"},
        {"id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "vendor": "Google"},
    ]


class CopilotFake(ProviderFake):
    """The Copilot token exchange and the Copilot API."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.mode = "ok"
        self.token_lifetime: float = 1800
        self.proxy_ep: str | None = "proxy.individual.githubcopilot.com"
        self.models: list[dict[str, Any]] = default_models()
        self.enabled_policies: list[str] = []
        self.chat_headers: list[dict[str, str | None]] = []
        self._tokens: dict[str, float] = {}

    # ---- helpers for tests

    def seed_token(self) -> str:
        """Issue a valid Copilot token directly and return it."""
        return self._issue()["token"]

    def expire_tokens(self) -> None:
        """Make every Copilot token issued so far expired."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def is_token_valid(self, token: str | None) -> bool:
        """True if ``token`` is an unexpired Copilot token."""
        with self._lock:
            return self._tokens.get(token or "", 0.0) > time.time()

    # ---- internals

    def _issue(self) -> dict[str, Any]:
        lifetime = as_seconds(self.token_lifetime, 1800)
        expires = time.time() + lifetime
        fields = [
            f"tid={secrets.token_hex(16)}",
            f"exp={int(expires)}",
            "sku=copilot_individual",
            "st=dotcom",
            "chat=1",
        ]
        if self.proxy_ep:
            fields.append(f"proxy-ep={self.proxy_ep}")
        fields.append(f"8kp=1:{secrets.token_hex(32)}")
        token = ";".join(fields)
        with self._lock:
            self._tokens[token] = expires
        api_host = (self.proxy_ep or "proxy.individual.githubcopilot.com").removeprefix("proxy.")
        return {
            "token": token,
            "expires_at": int(expires),
            "refresh_in": max(0, int(lifetime) - 300),
            "endpoints": {"api": f"https://api.{api_host}"},
            "sku": "copilot_individual",
            "chat_enabled": True,
        }

    def _copilot_problem(self, request: RecordedRequest) -> Reply | None:
        """401 for a bad/expired Copilot token, 400 naming a missing/wrong editor header."""
        if not self.is_token_valid(bearer(request.headers)):
            return json_reply(401, {"error": {"message": "unauthorized: token expired"}})
        for name, expected in COPILOT_HEADERS.items():
            if request.headers.get(name.lower()) != expected:
                message = f"missing or wrong header {name}: expected {expected}"
                return json_reply(400, {"error": {"message": message}})
        return None

    # ---- HTTP handlers

    def handle_token(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/copilot_internal/v2/token``."""
        github = self._peers["github"]
        assert isinstance(github, GitHubFake)
        if github.login_for(bearer(request.headers, ("bearer", "token"))) is None:
            return _bad_credentials()
        if self.mode == "no_access":
            message = "You do not have access to GitHub Copilot."
            return json_reply(403, {"message": message, "error_details": {"title": message}})
        if self.mode == "not_found":
            return json_reply(404, {"message": "Not Found"})
        return json_reply(200, self._issue())

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET /copilot/models``."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        if request.headers.get("x-github-api-version") != COPILOT_API_VERSION:
            message = f"missing or wrong header X-GitHub-Api-Version: expected {COPILOT_API_VERSION}"
            return json_reply(400, {"error": {"message": message}})
        with self._lock:
            enabled = set(self.enabled_policies)
            data = [
                model | {"policy": {"state": "enabled" if model["id"] in enabled else "unconfigured"}}
                for model in self.models
            ]
        return json_reply(200, {"object": "list", "data": data})

    def handle_policy(self, request: RecordedRequest) -> Reply:
        """``POST /copilot/models/{id}/policy`` with ``{"state": "enabled"}``."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        match = re.match(_POLICY_PATH, request.path)
        model_id = match.group("model") if match else ""
        with self._lock:
            if model_id not in {model.get("id") for model in self.models}:
                return json_reply(404, {"error": {"message": f"model {model_id} not found"}})
            if field_of(request.data, "state") != "enabled":
                return json_reply(400, {"error": {"message": 'body must be {"state":"enabled"}'}})
            self.enabled_policies.append(model_id)
        return json_reply(200, {})

    def handle_chat(self, request: RecordedRequest) -> Reply:
        """``POST /copilot/chat/completions``: a minimal completion; records the chat headers."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        with self._lock:
            self.chat_headers.append({name: request.headers.get(name) for name in COPILOT_CHAT_HEADERS})
        if not isinstance(request.data, dict) or not isinstance(request.data.get("messages"), list):
            return json_reply(400, {"error": {"message": "messages must be a list"}})
        return json_reply(
            200,
            {
                "id": random_token("chatcmpl-", 24),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": field_of(request.data, "model") or "gpt-4.1",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            },
        )


def _bad_credentials() -> Reply:
    return json_reply(
        401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    )


GITHUB = ProviderConfig(
    name="github",
    provider_id="github-copilot",
    client_id=CLIENT_ID,
    env=lambda base: {"PI_TUI_GITHUB_URL": f"{base}/github", "PI_TUI_GITHUB_API_URL": f"{base}/github-api"},
    tokens=TokenSpec(access_prefix="ghu_", length=36, refresh=False, answer=_github_token_answer),
    device=DeviceSpec(
        device_path="/github/login/device/code",
        poll_path="/github/login/oauth/access_token",
        verification_uri="https://github.com/login/device",
        scope_includes=("read:user",),
        style="github",
    ),
    routes=(
        RouteSpec("GET", "/github-api/copilot_internal/v2/token", "copilot_token", "handle_copilot_token"),
        RouteSpec("GET", "/github-api/user", "user", "handle_user"),
        RouteSpec("GET", "/github-api/copilot_internal/user", "usage", "handle_copilot_user"),
    ),
    fake=GitHubFake,
    account="octocat",
    scope="read:user",
)

COPILOT = ProviderConfig(
    name="copilot",
    provider_id="",
    client_id=None,
    env=lambda base: {"PI_TUI_COPILOT_API_URL": f"{base}/copilot"},
    routes=(
        RouteSpec("GET", "/copilot/models", "models", "handle_models"),
        RouteSpec("POST", _POLICY_PATH, "policy", "handle_policy"),
        RouteSpec("POST", "/copilot/chat/completions", "chat", "handle_chat"),
    ),
    fake=CopilotFake,
)
