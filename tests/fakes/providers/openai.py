"""OpenAI "Sign in with ChatGPT": PKCE with a client registered per login, tokens for api.openai.com.

``PI_TUI_OPENAI_AUTH_URL`` → ``/openai`` (shared with Codex: ``/api/accounts/authorize``,
``/api/accounts/oauth/token``) and ``PI_TUI_OPENAI_API_URL`` → ``/openai-api`` (test call
``GET /models``). Strict like the real server:

- authorize needs ``client_id=dynamic_agent_client``, ``agent_name_hint``, ``ext_agent_host_id``
  (``urn:uuid:<uuid>``, kept in ``host_ids``), ``resource``, a ``nonce``, the scopes and a
  redirect to ``http://127.0.0.1:<port>/auth/callback``; it registers a client for this login
  and names it in the redirect (``client_id``);
- the exchange must use that issued client id and carry ``resource``; the answer carries an
  ``id_token`` whose ``email`` is the account; a refresh must use the same client id.

Settings beyond the generic ones: ``grant_scope`` (the scope token answers name; ``None`` = the
one asked for).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.providers.openai_codex import jwt
from tests.fakes.spec import FORM, AuthCodeSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, field_of, json_reply

DYNAMIC_CLIENT_ID = "dynamic_agent_client"
RESOURCE = "https://api.openai.com/v1"
PREFIX = "/openai"
API = "/openai-api"
HOST_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _answer_extra(fake: ProviderFake, session: Session) -> dict[str, Any]:
    assert isinstance(fake, ChatGPTFake)
    claims = {"email": session.account, "aud": session.extra.get("client_id")}
    extra: dict[str, Any] = {"id_token": jwt(claims)}
    if fake.grant_scope is not None:
        extra["scope"] = fake.grant_scope
    return extra


class ChatGPTFake(ProviderFake):
    """Dynamic client registration, ``resource`` on every token request, the models test call."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.grant_scope: str | None = None
        self.host_ids: list[str] = []
        self._issued: dict[str, str] = {}  # authorization code -> the client registered for it

    def redirect_for(self, url: str) -> str:
        """The generic redirect, plus the client id registered for this login."""
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        host_id = query.get("ext_agent_host_id", "")
        if not HOST_ID.fullmatch(host_id):
            raise ValueError("Invalid authorization request: ext_agent_host_id must be urn:uuid:<uuid>")
        location = super().redirect_for(url)
        code = dict(parse_qsl(urlsplit(location).query)).get("code")
        if code is None:
            return location  # an error redirect names no client
        client_id = f"app_dyn_{secrets.token_hex(8)}"
        with self._lock:
            self._issued[code] = client_id
            self.host_ids.append(host_id)
        return f"{location}&client_id={client_id}"

    def exchange(self, data: dict[str, Any]) -> Reply:
        """The generic exchange, with the issued client id and ``resource`` required."""
        code = field_of(data, "code") or ""
        with self._lock:
            issued = self._issued.pop(code, None)
        if data.get("resource") != RESOURCE:
            return self.oauth_error("invalid_target", f"resource must be {RESOURCE}")
        if issued is None or data.get("client_id") != issued:
            return self.oauth_error("invalid_client", "client_id is not the one registered for this code")
        reply = super().exchange(data)
        if reply.status == 200:
            refresh = json.loads(reply.body).get("refresh_token")
            with self._lock:
                session = self._by_refresh.get(refresh or "")
                if session is not None:
                    session.extra["client_id"] = issued
        return reply

    def refresh(self, data: dict[str, Any]) -> Reply:
        """The generic refresh, with the login's client id and ``resource`` required."""
        if data.get("resource") != RESOURCE:
            return self.oauth_error("invalid_target", f"resource must be {RESOURCE}")
        with self._lock:
            session = self._by_refresh.get(field_of(data, "refresh_token") or "")
            expected = session.extra.get("client_id") if session else None
        if session is not None and data.get("client_id") != expected:
            return self.oauth_error("invalid_client", "client_id is not the one this login was issued")
        return super().refresh(data)

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET {api}/models`` with Bearer."""
        if not self.is_access_valid(bearer(request.headers)):
            error = {"message": "Incorrect API key provided", "code": "invalid_api_key"}
            return json_reply(401, {"error": error})
        models = [{"id": "gpt-5.1", "object": "model"}, {"id": "gpt-5.1-mini", "object": "model"}]
        return json_reply(200, {"object": "list", "data": models})


CONFIG = ProviderConfig(
    name="chatgpt",
    provider_id="openai",
    client_id=DYNAMIC_CLIENT_ID,
    env=lambda base: {"PI_TUI_OPENAI_AUTH_URL": f"{base}{PREFIX}", "PI_TUI_OPENAI_API_URL": f"{base}{API}"},
    tokens=TokenSpec(
        path=f"{PREFIX}/api/accounts/oauth/token",
        body=FORM,
        client_id=False,  # checked against the issued client, not a fixed one
        access_prefix="oai-at-",
        refresh_prefix="oai-rt-",
        length=64,
        expires_in=3600,
        extra=_answer_extra,
    ),
    auth_code=AuthCodeSpec(
        authorize_path=f"{PREFIX}/api/accounts/authorize",
        redirect_uris=r"http://127\.0\.0\.1:\d{1,5}/auth/callback",
        params={
            "client_id": DYNAMIC_CLIENT_ID,
            "response_type": "code",
            "agent_name_hint": None,
            "resource": RESOURCE,
            "nonce": None,
        },
        client_id=False,
        scope_includes=("openid", "email", "offline_access", "resource.invoke", "chatgpt.tokens.use.direct"),
    ),
    routes=(RouteSpec("GET", f"{API}/models", "models", "handle_models"),),
    fake=ChatGPTFake,
    scope="openid profile email offline_access resource.invoke chatgpt.tokens.use.direct",
)
