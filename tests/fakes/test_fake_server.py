"""Tests of the loopback fake providers themselves, with plain synchronous httpx."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.fakes import ENDPOINTS, FakeProviders, fixtures
from tests.fakes.fixtures import client_tls

fake = fixtures.fake

ANTHROPIC_CLIENT = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
GITHUB_CLIENT = "Iv1.b507a08c87ecfe98"
SCOPES = "org:create_api_key user:profile user:inference user:sessions:claude_code"
SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
COPILOT_HEADERS = {
    "User-Agent": "GitHubCopilotChat/0.35.0",
    "Editor-Version": "vscode/1.107.0",
    "Editor-Plugin-Version": "copilot-chat/0.35.0",
    "Copilot-Integration-Id": "vscode-chat",
}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(fake: FakeProviders) -> Iterator[httpx.Client]:
    """An httpx client with the fake as base URL."""
    with httpx.Client(verify=client_tls(), base_url=fake.base, timeout=5) as http:
        yield http


# --------------------------------------------------------------------------- helpers


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), computed independently of the fake."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(redirect_uri: str, challenge: str, state: str) -> dict[str, str]:
    """The query pi-tui sends to the authorize page."""
    return {
        "code": "true",
        "client_id": ANTHROPIC_CLIENT,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    }


class Login:
    """One Anthropic authorization attempt: PKCE pair, state, redirect_uri and the code issued."""

    def __init__(self, server: FakeProviders, redirect_uri: str = "http://localhost:53692/callback"):
        self.verifier, self.challenge = pkce()
        self.state = secrets.token_urlsafe(32)
        self.redirect_uri = redirect_uri
        self.url = f"{server.base}/oauth/authorize?" + urlencode(
            authorize_params(redirect_uri, self.challenge, self.state)
        )
        self.code, _ = server.anthropic.authorize(self.url)

    def exchange_body(self, **overrides: Any) -> dict[str, Any]:
        """The exchange body pi-tui sends, with ``overrides`` applied."""
        body = {
            "grant_type": "authorization_code",
            "client_id": ANTHROPIC_CLIENT,
            "code": self.code,
            "state": self.state,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        }
        return body | overrides


def exchange(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/oauth/token", json=body, headers={"Accept": "application/json"})


def refresh(client: httpx.Client, token: str, **extra: Any) -> httpx.Response:
    body = {"grant_type": "refresh_token", "client_id": ANTHROPIC_CLIENT, "refresh_token": token}
    return client.post("/v1/oauth/token", json=body | extra)


def messages_headers(access: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {access}",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
    }


def messages_body(system: Any = None) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 1,
        "system": [{"type": "text", "text": SYSTEM}] if system is None else system,
        "messages": [{"role": "user", "content": "Hi"}],
    }


def device_code(client: httpx.Client, **overrides: str) -> dict[str, Any]:
    form = {"client_id": GITHUB_CLIENT, "scope": "read:user"} | overrides
    response = client.post("/github/login/device/code", data=form, headers={"Accept": "application/json"})
    assert response.status_code == 200
    return response.json()


def poll(client: httpx.Client, code: str, **overrides: str) -> dict[str, Any]:
    form = {"client_id": GITHUB_CLIENT, "device_code": code, "grant_type": DEVICE_GRANT} | overrides
    response = client.post(
        "/github/login/oauth/access_token", data=form, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    return response.json()


def fast_device_flow(server: FakeProviders, gap: float = 0.05) -> None:
    server.github.interval = 1
    server.github.min_poll_gap = gap
    server.github.slow_down_gap_scale = 0.01


def copilot_token(client: httpx.Client, server: FakeProviders) -> str:
    github_token = server.github.seed_login()
    response = client.get(
        "/github-api/copilot_internal/v2/token", headers={"Authorization": f"token {github_token}"}
    )
    assert response.status_code == 200
    return response.json()["token"]


def copilot_headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} | COPILOT_HEADERS | extra


# --------------------------------------------------------------------------- lifecycle


def test_env_points_every_override_at_the_server(fake: FakeProviders) -> None:
    base = f"http://127.0.0.1:{fake.port}"
    assert fake.base == base
    assert fake.env() == {
        "PI_TUI_ANTHROPIC_AUTHORIZE_URL": f"{base}/oauth/authorize",
        "PI_TUI_ANTHROPIC_TOKEN_URL": f"{base}/v1/oauth/token",
        "PI_TUI_ANTHROPIC_API_URL": base,
        "PI_TUI_GITHUB_URL": f"{base}/github",
        "PI_TUI_GITHUB_API_URL": f"{base}/github-api",
        "PI_TUI_COPILOT_API_URL": f"{base}/copilot",
        "PI_TUI_OPENAI_AUTH_URL": f"{base}/openai",
        "PI_TUI_OPENAI_CODEX_API_URL": f"{base}/codex-api",
        "PI_TUI_XAI_AUTH_URL": f"{base}/xai-auth",
        "PI_TUI_XAI_API_URL": f"{base}/xai-api",
        "PI_TUI_KIMI_AUTH_URL": f"{base}/kimi-auth",
        "PI_TUI_KIMI_API_URL": f"{base}/kimi-api",
        "PI_TUI_OPENROUTER_URL": f"{base}/openrouter",
        "PI_TUI_META_AUTH_URL": f"{base}/meta-auth",
        "PI_TUI_META_API_URL": f"{base}/meta-api",
        "PI_TUI_OPENAI_API_URL": f"{base}/openai-api",
        "PI_TUI_RADIUS_URL": f"{base}/radius",
        "PI_TUI_CALLBACK_PORT": "0",
    }


def test_starts_fast_and_stops_promptly_despite_hanging_and_dripping_handlers() -> None:
    began = time.perf_counter()
    server = FakeProviders().start()
    started = time.perf_counter() - began
    server.drip_interval = 0.05
    server.fail("github.user", kind="hang")
    server.fail("copilot.models", kind="drip")
    results: list[str] = []

    def call(path: str) -> None:
        try:
            with httpx.stream("GET", server.base + path, timeout=30, verify=client_tls()) as response:
                response.read()
        except httpx.HTTPError as error:
            results.append(type(error).__name__)

    threads = [threading.Thread(target=call, args=(p,)) for p in ("/github-api/user", "/copilot/models")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while (server.count("github.user") + server.count("copilot.models")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.1)
    began = time.perf_counter()
    server.stop()
    stopped = time.perf_counter() - began
    for thread in threads:
        thread.join(5)
    assert started < 0.1, started
    assert stopped < 1.0, stopped
    assert len(results) == 2, results


def test_keeps_the_connection_alive(fake: FakeProviders, client: httpx.Client) -> None:
    first = client.get("/github-api/user")
    second = client.get("/github-api/user")
    assert first.http_version == "HTTP/1.1"
    assert "close" not in first.headers.get("connection", "")
    assert second.status_code == 401
    ports = {request.client_port for request in fake.requests}
    assert len(ports) == 1


def test_unknown_path_is_404_and_wrong_method_405(fake: FakeProviders, client: httpx.Client) -> None:
    assert client.get("/nowhere").status_code == 404
    assert client.get("/v1/messages").status_code == 405
    assert [r.name for r in fake.requests] == [None, None]


def test_records_requests_with_lowercased_headers_and_parsed_bodies(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    client.post("/github/login/device/code", data={"client_id": "x", "scope": "read:user"})
    client.post("/v1/messages", json={"a": 1}, headers={"X-Custom": "Yes"})
    form, jsoned = fake.requests
    assert form.name == "github.device_code"
    assert form.data == {"client_id": "x", "scope": "read:user"}
    assert form.body == b"client_id=x&scope=read%3Auser"
    assert jsoned.data == {"a": 1}
    assert jsoned.headers["x-custom"] == "Yes"
    assert form.time <= jsoned.time
    assert fake.count("github.device_code") == 1
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.count("github.devicecode")


def test_no_tracebacks_when_clients_disconnect(
    fake: FakeProviders,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake.drip_interval = 0.02
    with socket.create_connection(("127.0.0.1", fake.port)) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    fake.fail("copilot.models", kind="drip")
    with socket.create_connection(("127.0.0.1", fake.port)) as sock:
        sock.sendall(b"GET /copilot/models HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(10)
    fake.fail("github.user", kind="reset")
    with pytest.raises(httpx.TransportError):
        httpx.get(fake.base + "/github-api/user", verify=client_tls())
    time.sleep(0.2)
    assert httpx.get(fake.base + "/github-api/user", verify=client_tls()).status_code == 401
    fake.stop()
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------- Anthropic


def test_authorize_redirects_to_the_redirect_uri_with_code_and_state(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    _, challenge = pkce()
    redirect_uri = f"http://127.0.0.1:{fake.port}/callback"
    params = authorize_params(redirect_uri, challenge, "st4te")
    response = client.get("/oauth/authorize", params=params, follow_redirects=True)
    callback = fake.requests[-1]
    assert response.history[0].status_code == 302
    assert callback.path == "/callback"
    assert callback.query["state"] == "st4te"
    assert len(callback.query["code"]) >= 32
    assert fake.count("anthropic.authorize") == 1


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("client_id", "someone-else", "client_id"),
        ("response_type", "token", "response_type"),
        ("code", "false", "code=true"),
        ("code_challenge_method", "plain", "S256"),
        ("code_challenge", "", "code_challenge"),
        ("code_challenge", "a" * 64, "code_challenge"),
        ("state", "", "state"),
        ("redirect_uri", "", "redirect_uri"),
        ("redirect_uri", "http://evil.example:53692/callback", "redirect_uri"),
        ("scope", "user:profile", "user:inference"),
    ],
)
def test_authorize_rejects_a_bad_request(
    fake: FakeProviders,
    client: httpx.Client,
    key: str,
    value: str,
    complaint: str,
) -> None:
    _, challenge = pkce()
    params = authorize_params("http://localhost:53692/callback", challenge, "s") | {key: value}
    response = client.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert complaint in response.text
    with pytest.raises(ValueError, match=complaint):
        fake.anthropic.authorize(f"{fake.base}/oauth/authorize?{urlencode(params)}")


def test_deny_next_authorize_redirects_with_an_error_once(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    _, challenge = pkce()
    params = authorize_params("http://localhost:53692/callback", challenge, "s1")
    fake.anthropic.deny_next_authorize()
    denied = parse_qs(urlsplit(client.get("/oauth/authorize", params=params).headers["location"]).query)
    granted = parse_qs(urlsplit(client.get("/oauth/authorize", params=params).headers["location"]).query)
    assert denied["error"] == ["access_denied"]
    assert denied["state"] == ["s1"]
    assert "error_description" in denied
    assert "code" not in denied
    assert "code" in granted


def test_exchange_returns_tokens_that_work_for_messages(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    fake.anthropic.email = "me@example.org"
    login = Login(fake)
    response = exchange(client, login.exchange_body())
    assert response.status_code == 200
    data = response.json()
    assert data["token_type"] == "Bearer"
    assert data["access_token"].startswith("sk-ant-oat01-")
    assert data["refresh_token"].startswith("sk-ant-ort01-")
    assert data["expires_in"] == 28800
    assert "user:inference" in data["scope"]
    assert data["account"]["email_address"] == "me@example.org"
    assert data["organization"]["name"] == "Example Org"
    reply = client.post("/v1/messages", json=messages_body(), headers=messages_headers(data["access_token"]))
    assert reply.status_code == 200
    assert reply.json()["model"] == "claude-haiku-4-5"
    assert reply.json()["content"] == [{"type": "text", "text": "Hi"}]
    assert fake.count("anthropic.exchange") == 1
    assert fake.count("anthropic.messages") == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "nope"}, "invalid_client"),
        ({"code_verifier": "wrong-verifier-wrong-verifier-wrong-verifier"}, "invalid_grant"),
        ({"redirect_uri": "http://localhost:1234/callback"}, "invalid_grant"),
        ({"state": "another-state"}, "invalid_grant"),
        ({"code": "never-issued"}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"state": ""}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_exchange_rejects_a_mismatch_and_the_code_is_burned(
    fake: FakeProviders,
    client: httpx.Client,
    overrides: dict[str, str],
    error: str,
) -> None:
    login = Login(fake)
    bad = exchange(client, login.exchange_body(**overrides))
    assert bad.status_code == 400
    assert bad.json()["error"] == error
    assert bad.json()["error_description"]
    retry = exchange(client, login.exchange_body())
    if overrides.get("code") or overrides.get("grant_type"):
        assert retry.status_code == 200
    else:
        assert retry.json()["error"] == "invalid_grant"


def test_state_equal_to_the_verifier_is_refused(fake: FakeProviders, client: httpx.Client) -> None:
    login = Login(fake)
    response = exchange(client, login.exchange_body(state=login.verifier))
    assert response.json()["error"] == "invalid_request"


def test_a_code_is_single_use(fake: FakeProviders, client: httpx.Client) -> None:
    login = Login(fake)
    assert exchange(client, login.exchange_body()).status_code == 200
    again = exchange(client, login.exchange_body())
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert fake.count("anthropic.exchange") == 2


def test_refresh_rotates_and_invalidates_the_old_pair(fake: FakeProviders, client: httpx.Client) -> None:
    old = fake.anthropic.seed_login(email="seed@example.com")
    fresh = refresh(client, old["refresh"], scope="user:inference")
    assert fresh.status_code == 200
    new = fresh.json()
    assert new["account"]["email_address"] == "seed@example.com"
    assert {new["access_token"], new["refresh_token"]}.isdisjoint(old.values())
    assert refresh(client, old["refresh"]).json()["error"] == "invalid_grant"
    old_call = client.post("/v1/messages", json=messages_body(), headers=messages_headers(old["access"]))
    assert old_call.status_code == 401
    new_call = client.post(
        "/v1/messages", json=messages_body(), headers=messages_headers(new["access_token"])
    )
    assert new_call.status_code == 200
    assert refresh(client, new["refresh_token"]).status_code == 200
    assert fake.count("anthropic.refresh") == 3


def test_refresh_checks_the_client_and_the_token(fake: FakeProviders, client: httpx.Client) -> None:
    pair = fake.anthropic.seed_login()
    assert refresh(client, pair["refresh"], client_id="nope").json()["error"] == "invalid_client"
    assert refresh(client, "sk-ant-ort01-unknown").json()["error"] == "invalid_grant"
    assert fake.anthropic.is_refresh_valid(pair["refresh"])


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    fake.anthropic.omit_refresh_token = True
    old = fake.anthropic.seed_login()
    first = refresh(client, old["refresh"]).json()
    assert "refresh_token" not in first
    second = refresh(client, old["refresh"]).json()
    assert second["access_token"] != first["access_token"]
    assert not fake.anthropic.is_access_valid(first["access_token"])
    assert fake.anthropic.is_access_valid(second["access_token"])


def test_revoke_all_invalidates_every_token(fake: FakeProviders, client: httpx.Client) -> None:
    pair = fake.anthropic.seed_login()
    fake.anthropic.revoke_all()
    assert refresh(client, pair["refresh"]).json()["error"] == "invalid_grant"
    call = client.post("/v1/messages", json=messages_body(), headers=messages_headers(pair["access"]))
    assert call.status_code == 401


def test_expired_access_token_is_401_until_refreshed(fake: FakeProviders, client: httpx.Client) -> None:
    pair = fake.anthropic.seed_login()
    fake.anthropic.expire_access_tokens()
    expired = client.post("/v1/messages", json=messages_body(), headers=messages_headers(pair["access"]))
    assert expired.status_code == 401
    assert expired.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid bearer token"},
    }
    access = refresh(client, pair["refresh"]).json()["access_token"]
    ok = client.post("/v1/messages", json=messages_body(), headers=messages_headers(access))
    assert ok.status_code == 200


def test_expires_in_setting_sets_the_access_token_lifetime(fake: FakeProviders) -> None:
    fake.anthropic.expires_in = 0
    pair = fake.anthropic.seed_login()
    assert not fake.anthropic.is_access_valid(pair["access"])


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"x-api-key": "sk-ant-api03-x"}, 400, "invalid_request_error"),
        ({"anthropic-version": "2024-01-01"}, 400, "invalid_request_error"),
        ({"anthropic-beta": "oauth-2025-04-20"}, 400, "invalid_request_error"),
        ({"anthropic-beta": "claude-code-20250219"}, 400, "invalid_request_error"),
        ({"Authorization": "Bearer sk-ant-oat01-unknown"}, 401, "authentication_error"),
        ({"Authorization": ""}, 401, "authentication_error"),
    ],
)
def test_messages_checks_oauth_headers(
    fake: FakeProviders,
    client: httpx.Client,
    change: dict[str, str],
    status: int,
    kind: str,
) -> None:
    access = fake.anthropic.seed_login()["access"]
    response = client.post("/v1/messages", json=messages_body(), headers=messages_headers(access) | change)
    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == kind


@pytest.mark.parametrize(
    "system",
    [
        "You are Claude Code, Anthropic's official CLI for Claude.",
        [{"type": "text", "text": "You are a helpful assistant."}],
        [],
        [{"type": "text", "text": "Other"}, {"type": "text", "text": SYSTEM}],
    ],
)
def test_messages_requires_the_claude_code_system_block_first(
    fake: FakeProviders,
    client: httpx.Client,
    system: Any,
) -> None:
    access = fake.anthropic.seed_login()["access"]
    response = client.post("/v1/messages", json=messages_body(system), headers=messages_headers(access))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


# --------------------------------------------------------------------------- GitHub device flow


def test_device_code_answers_json_or_form(fake: FakeProviders, client: httpx.Client) -> None:
    fake.github.next_user_code = "WXYZ-0001"
    data = device_code(client)
    assert data["user_code"] == "WXYZ-0001"
    assert data["verification_uri"] == "https://github.com/login/device"
    assert data["expires_in"] == 900
    assert data["interval"] == 5
    assert len(data["device_code"]) >= 20
    form = client.post("/github/login/device/code", data={"client_id": GITHUB_CLIENT, "scope": "read:user"})
    assert form.headers["content-type"].startswith("application/x-www-form-urlencoded")
    parsed = parse_qs(form.text)
    assert parsed["interval"] == ["5"]
    assert parsed["user_code"][0] != "WXYZ-0001"
    assert fake.github.latest_user_code == parsed["user_code"][0]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": "Iv1.other", "scope": "read:user"}, "incorrect_client_credentials"),
        ({"client_id": GITHUB_CLIENT, "scope": "repo"}, "invalid_scope"),
    ],
)
def test_device_code_checks_client_and_scope(client: httpx.Client, form: dict[str, str], error: str) -> None:
    response = client.post("/github/login/device/code", data=form, headers={"Accept": "application/json"})
    assert response.json()["error"] == error


def test_poll_pending_then_approved_once(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake)
    code = device_code(client)
    time.sleep(0.06)
    assert poll(client, code["device_code"])["error"] == "authorization_pending"
    assert fake.github.approve(login="hubot") == code["user_code"]
    time.sleep(0.06)
    token = poll(client, code["device_code"])
    assert token["access_token"].startswith("ghu_")
    assert token["token_type"] == "bearer"
    assert token["scope"] == "read:user"
    time.sleep(0.06)
    assert poll(client, code["device_code"])["error"] == "incorrect_device_code"
    user = client.get("/github-api/user", headers={"Authorization": f"token {token['access_token']}"})
    assert user.json()["login"] == "hubot"
    assert fake.count("github.poll") == 3


def test_polling_too_soon_is_slow_down_and_the_gap_grows(fake: FakeProviders, client: httpx.Client) -> None:
    # Gaps wide enough for a busy machine's request latency (the suite runs in parallel): 0.2 s,
    # and each slow_down adds 0.3 s.
    fast_device_flow(fake, gap=0.2)
    fake.github.slow_down_gap_scale = 0.06
    code = device_code(client)["device_code"]
    first = poll(client, code)
    assert first["error"] == "slow_down"
    assert first["interval"] == 6
    time.sleep(0.25)  # past the first gap (0.2 s), inside the grown one (0.5 s)
    second = poll(client, code)
    assert second["error"] == "slow_down"
    assert second["interval"] == 11
    time.sleep(0.85)  # past the gap grown again (0.8 s)
    assert poll(client, code)["error"] == "authorization_pending"


def test_force_slow_down_ignores_timing(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake, gap=0.0)
    fake.github.slow_down_gap_scale = 0
    code = device_code(client)["device_code"]
    fake.github.force_slow_down(2)
    assert [poll(client, code)["error"] for _ in range(3)] == [
        "slow_down",
        "slow_down",
        "authorization_pending",
    ]


def test_denied_code_is_access_denied(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake, gap=0.0)
    first = device_code(client)
    second = device_code(client)
    assert fake.github.deny(first["user_code"]) == first["user_code"]
    assert poll(client, first["device_code"])["error"] == "access_denied"
    assert poll(client, second["device_code"])["error"] == "authorization_pending"


def test_expired_device_code_is_expired_token(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake, gap=0.0)
    fake.github.expires_in = 0.1
    code = device_code(client)
    fake.github.approve()
    time.sleep(0.15)
    answer = poll(client, code["device_code"])
    assert answer["error"] == "expired_token"
    assert answer["error_uri"].startswith("https://docs.github.com/")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "Iv1.other"}, "incorrect_client_credentials"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"device_code": "0" * 40}, "incorrect_device_code"),
    ],
)
def test_poll_checks_its_form(
    fake: FakeProviders,
    client: httpx.Client,
    overrides: dict[str, str],
    error: str,
) -> None:
    fast_device_flow(fake, gap=0.0)
    code = device_code(client)["device_code"]
    assert poll(client, code, **overrides)["error"] == error


def test_disabled_device_flow(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake, gap=0.0)
    code = device_code(client)["device_code"]
    fake.github.disable_device_flow = True
    assert poll(client, code)["error"] == "device_flow_disabled"


def test_poll_answers_form_without_accept_json(fake: FakeProviders, client: httpx.Client) -> None:
    fast_device_flow(fake, gap=0.0)
    code = device_code(client)["device_code"]
    form = {"client_id": GITHUB_CLIENT, "device_code": code, "grant_type": DEVICE_GRANT}
    response = client.post("/github/login/oauth/access_token", data=form)
    assert response.status_code == 200
    assert parse_qs(response.text)["error"] == ["authorization_pending"]


def test_approve_without_a_pending_code_raises(fake: FakeProviders) -> None:
    with pytest.raises(LookupError):
        fake.github.approve()


# --------------------------------------------------------------------------- GitHub API and Copilot token


@pytest.mark.parametrize("scheme", ["token", "Bearer"])
def test_copilot_token_exchange(fake: FakeProviders, client: httpx.Client, scheme: str) -> None:
    github_token = fake.github.seed_login()
    headers = {"Authorization": f"{scheme} {github_token}"}
    before = time.time()
    first = client.get("/github-api/copilot_internal/v2/token", headers=headers).json()
    second = client.get("/github-api/copilot_internal/v2/token", headers=headers).json()
    fields = dict(part.split("=", 1) for part in first["token"].split(";"))
    assert fields["proxy-ep"] == "proxy.individual.githubcopilot.com"
    assert fields["sku"] == "copilot_individual"
    assert fields["8kp"].startswith("1:")
    assert before + 1790 <= first["expires_at"] <= time.time() + 1800
    assert int(fields["exp"]) == first["expires_at"]
    assert first["refresh_in"] == 1500
    assert first["endpoints"]["api"] == "https://api.individual.githubcopilot.com"
    assert first["token"] != second["token"]
    assert fake.copilot.is_token_valid(first["token"])
    assert fake.count("github.copilot_token") == 2


def test_copilot_token_proxy_ep_is_configurable(fake: FakeProviders, client: httpx.Client) -> None:
    fake.copilot.proxy_ep = "proxy.business.githubcopilot.com"
    assert "proxy-ep=proxy.business.githubcopilot.com;" in copilot_token(client, fake)
    fake.copilot.proxy_ep = None
    assert "proxy-ep" not in copilot_token(client, fake)


@pytest.mark.parametrize(("mode", "status"), [("no_access", 403), ("not_found", 404)])
def test_copilot_token_modes(fake: FakeProviders, client: httpx.Client, mode: str, status: int) -> None:
    github_token = fake.github.seed_login()
    fake.copilot.mode = mode
    response = client.get(
        "/github-api/copilot_internal/v2/token", headers={"Authorization": f"token {github_token}"}
    )
    assert response.status_code == status
    assert response.json()["message"]


def test_copilot_token_and_user_reject_unknown_github_tokens(
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    headers = {"Authorization": "token ghu_unknown"}
    bad = client.get("/github-api/copilot_internal/v2/token", headers=headers)
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    assert client.get("/github-api/user", headers=headers).status_code == 401
    good = fake.github.seed_login("monalisa")
    user = client.get("/github-api/user", headers={"Authorization": f"Bearer {good}"})
    assert user.json() == {"login": "monalisa", "id": 1, "name": "The Octocat"}
    fake.github.revoke_all()
    assert client.get("/github-api/user", headers={"Authorization": f"Bearer {good}"}).status_code == 401


# --------------------------------------------------------------------------- Copilot API


def test_copilot_models_lists_and_policies_enable(fake: FakeProviders, client: httpx.Client) -> None:
    token = copilot_token(client, fake)
    headers = copilot_headers(token, **{"X-GitHub-Api-Version": "2026-06-01"})
    models = client.get("/copilot/models", headers=headers).json()["data"]
    ids = [model["id"] for model in models]
    assert ids[:2] == ["gpt-4.1", "claude-sonnet-4.5"]
    assert 3 <= len(ids) <= 4
    assert {model["policy"]["state"] for model in models} == {"unconfigured"}
    enable = client.post("/copilot/models/gpt-4.1/policy", json={"state": "enabled"}, headers=headers)
    assert enable.status_code == 200
    assert enable.json() == {}
    assert fake.copilot.enabled_policies == ["gpt-4.1"]
    unknown = client.post("/copilot/models/gpt-0/policy", json={"state": "enabled"}, headers=headers)
    assert unknown.status_code == 404
    again = client.get("/copilot/models", headers=headers).json()["data"]
    assert again[0]["policy"]["state"] == "enabled"
    assert fake.count("copilot.models") == 2
    assert fake.count("copilot.policy") == 2


def test_copilot_models_needs_the_api_version(fake: FakeProviders, client: httpx.Client) -> None:
    token = copilot_token(client, fake)
    response = client.get("/copilot/models", headers=copilot_headers(token))
    assert response.status_code == 400
    assert "X-GitHub-Api-Version" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", list(COPILOT_HEADERS))
def test_copilot_api_names_a_missing_or_wrong_header(
    fake: FakeProviders,
    client: httpx.Client,
    header: str,
) -> None:
    token = copilot_token(client, fake)
    wrong = copilot_headers(token) | {header: "something/0.0"}
    response = client.post("/copilot/chat/completions", json={"messages": []}, headers=wrong)
    assert response.status_code == 400
    assert header in response.json()["error"]["message"]


def test_copilot_chat_records_intent_headers(fake: FakeProviders, client: httpx.Client) -> None:
    token = copilot_token(client, fake)
    extra = {"Openai-Intent": "conversation-edits", "X-Initiator": "user", "Copilot-Vision-Request": "true"}
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}]}
    response = client.post("/copilot/chat/completions", json=body, headers=copilot_headers(token, **extra))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hi"
    client.post("/copilot/chat/completions", json=body, headers=copilot_headers(token))
    assert fake.copilot.chat_headers == [
        {"openai-intent": "conversation-edits", "x-initiator": "user", "copilot-vision-request": "true"},
        {"openai-intent": None, "x-initiator": None, "copilot-vision-request": None},
    ]
    assert fake.requests_for("copilot.chat")[0].headers["x-initiator"] == "user"


def test_copilot_api_rejects_expired_and_unknown_tokens(fake: FakeProviders, client: httpx.Client) -> None:
    body = {"messages": []}
    unknown = client.post("/copilot/chat/completions", json=body, headers=copilot_headers("tid=x"))
    assert unknown.status_code == 401
    assert unknown.json() == {"error": {"message": "unauthorized: token expired"}}
    fake.copilot.token_lifetime = 0.3
    token = copilot_token(client, fake)
    assert (
        client.post("/copilot/chat/completions", json=body, headers=copilot_headers(token)).status_code == 200
    )
    time.sleep(0.35)
    assert (
        client.post("/copilot/chat/completions", json=body, headers=copilot_headers(token)).status_code == 401
    )
    fake.copilot.token_lifetime = 1800
    fresh = copilot_token(client, fake)
    fake.copilot.expire_tokens()
    assert (
        client.post("/copilot/chat/completions", json=body, headers=copilot_headers(fresh)).status_code == 401
    )


# --------------------------------------------------------------------------- faults and timing


def test_fail_queues_canned_answers_then_recovers(fake: FakeProviders, client: httpx.Client) -> None:
    fake.fail("github.user", status=429, body="", headers={"Retry-After": "7"}, times=2)
    fake.fail("github.user", status=502, body="<html><body>Bad gateway</body></html>")
    fake.fail("github.user", status=200, body={"error": "weird"})
    answers = [client.get("/github-api/user") for _ in range(5)]
    assert [a.status_code for a in answers] == [429, 429, 502, 200, 401]
    assert answers[0].headers["retry-after"] == "7"
    assert answers[0].content == b""
    assert answers[2].headers["content-type"] == "text/html"
    assert answers[3].json() == {"error": "weird"}
    assert fake.count("github.user") == 5


def test_fail_with_explicit_content_type_and_default_body(fake: FakeProviders, client: httpx.Client) -> None:
    fake.fail("copilot.models", status=503, body="oops", content_type="application/json")
    fake.fail("copilot.models")
    first, second = client.get("/copilot/models"), client.get("/copilot/models")
    assert (first.status_code, first.headers["content-type"], first.text) == (503, "application/json", "oops")
    assert (second.status_code, second.content) == (500, b"")


def test_fail_rejects_unknown_names_and_kinds(fake: FakeProviders) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.fail("anthropic.token")
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.fail("github.user", kind="explode")


def test_reset_kills_the_connection(fake: FakeProviders, client: httpx.Client) -> None:
    fake.fail("anthropic.refresh", kind="reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        refresh(client, "whatever")
    assert refresh(client, "whatever").json()["error"] == "invalid_grant"


def test_hang_never_answers(fake: FakeProviders, client: httpx.Client) -> None:
    fake.fail("github.poll", kind="hang")
    began = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/github/login/oauth/access_token", data={}, timeout=0.3)
    assert time.monotonic() - began >= 0.3
    assert fake.count("github.poll") == 1


def test_drip_sends_headers_then_a_byte_at_a_time(fake: FakeProviders) -> None:
    fake.drip_interval = 0.05
    fake.fail("anthropic.messages", kind="drip")
    with httpx.stream("POST", fake.base + "/v1/messages", timeout=2, verify=client_tls()) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == "1000000"
        received = b""
        began = time.monotonic()
        for chunk in response.iter_raw():
            received += chunk
            if len(received) >= 3:
                break
        assert time.monotonic() - began >= 0.08
    fake.drip_interval = 1.0
    fake.fail("anthropic.messages", kind="drip")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.base + "/v1/messages", timeout=0.3, verify=client_tls())


def test_global_and_per_endpoint_latency(fake: FakeProviders, client: httpx.Client) -> None:
    def timed(path: str) -> float:
        began = time.monotonic()
        client.get(path)
        return time.monotonic() - began

    assert timed("/github-api/user") < 0.15
    fake.latency = 0.2
    assert timed("/github-api/user") >= 0.2
    fake.set_latency("github.user", 0)
    assert timed("/github-api/user") < 0.15
    assert timed("/copilot/models") >= 0.2


# --------------------------------------------------------------------------- control endpoints


def test_control_endpoints_drive_the_fake(fake: FakeProviders, client: httpx.Client) -> None:
    github_token = client.post("/_control/seed_github", json={"login": "ctl"}).json()["github_token"]
    assert (
        client.get("/github-api/user", headers={"Authorization": f"token {github_token}"}).json()["login"]
        == "ctl"
    )
    pair = client.post("/_control/seed_anthropic").json()
    assert fake.anthropic.is_access_valid(pair["access"])
    client.post("/_control/expire_anthropic")
    assert not fake.anthropic.is_access_valid(pair["access"])
    client.post("/_control/configure", json={"github.interval": 1, "github.min_poll_gap": 0})
    code = device_code(client)
    assert code["interval"] == 1
    assert client.post("/_control/approve").json() == {"user_code": code["user_code"]}
    assert poll(client, code["device_code"])["access_token"].startswith("ghu_")
    client.post("/_control/fail", json={"name": "github.user", "status": 503, "body": {"x": 1}})
    assert client.get("/github-api/user").status_code == 503
    client.post("/_control/latency", json={"seconds": 0.25})
    assert fake.latency == 0.25
    counts = client.get("/_control/counts").json()
    assert set(counts) == set(ENDPOINTS)
    assert counts["github.user"] == 2
    assert counts["github.poll"] == 1
    assert all(not r.path.startswith("/_control") for r in fake.requests)


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        ("explode", {}, 404),
        ("approve", {}, 400),
        ("fail", {"name": "nope"}, 400),
        ("configure", {"github.approve": 1}, 400),
        ("configure", {"github._tokens": {}}, 400),
    ],
)
def test_control_errors(client: httpx.Client, action: str, body: dict[str, Any], status: int) -> None:
    response = client.post(f"/_control/{action}", json=body)
    assert response.status_code == status
    assert response.json()["error"]


# --------------------------------------------------------------------------- standalone


def test_standalone_prints_base_and_env_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "--port", "0", "--set", "github.interval=2"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        base = line["base"]
        assert line["env"]["PI_TUI_GITHUB_URL"] == f"{base}/github"
        with httpx.Client(verify=client_tls(), base_url=base, timeout=5) as http:
            assert device_code(http)["interval"] == 2
            assert http.get("/_control/counts").json()["github.device_code"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()


# =========================================================================== every provider
#
# The generic behaviour, parametrised over the provider configurations: a client description per
# provider (what pi-tui sends, written here independently of the fake's configuration), then one
# test per behaviour. Provider-specific cases follow.

CODEX_CLIENT = "app_EMoamEEZ73f0CkXaXp7hrann"
XAI_CLIENT = "b1a00492-073a-47ea-816f-4c329264a828"
KIMI_CLIENT = "17e5f671-d194-4dfb-9706-5516cb48c098"
META_CLIENT = "1031625952748946"


@dataclass(frozen=True)
class CodeClient:
    """How a client runs an authorization-code login against one provider."""

    name: str
    authorize_path: str
    redirect: str
    params: Callable[[str, str, str], dict[str, str]]
    exchange_path: str
    exchange_form: bool
    exchange: Callable[[str, str, str, str], dict[str, str]]
    state: bool = True
    client_id: str | None = None


@dataclass(frozen=True)
class DeviceClient:
    """How a client runs a device-code login against one provider."""

    name: str
    client_id: str
    device_path: str
    device_form: dict[str, str]
    poll_path: str
    github: bool = False

    def start(self, http: httpx.Client, **overrides: str) -> httpx.Response:
        form = {"client_id": self.client_id} | self.device_form | overrides
        return http.post(self.device_path, data=form, headers={"Accept": "application/json"})

    def poll(self, http: httpx.Client, device_code: str, **overrides: str) -> httpx.Response:
        form = {
            "client_id": self.client_id,
            "device_code": device_code,
            "grant_type": DEVICE_GRANT,
        } | overrides
        return http.post(self.poll_path, data=form, headers={"Accept": "application/json"})


@dataclass(frozen=True)
class RefreshClient:
    """How a client refreshes against one provider."""

    name: str
    client_id: str
    token_path: str
    form: bool
    login: Callable[[FakeProviders, httpx.Client], dict[str, str]]

    def refresh(self, http: httpx.Client, token: str) -> httpx.Response:
        body = {"grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": token}
        if self.form:
            return http.post(self.token_path, data=body, headers={"Accept": "application/json"})
        return http.post(self.token_path, json=body, headers={"Accept": "application/json"})


CODE_CLIENTS = [
    CodeClient(
        name="anthropic",
        authorize_path="/oauth/authorize",
        redirect="http://localhost:53692/callback",
        params=lambda redirect, challenge, state: authorize_params(redirect, challenge, state),
        exchange_path="/v1/oauth/token",
        exchange_form=False,
        exchange=lambda code, verifier, redirect, state: {
            "grant_type": "authorization_code",
            "client_id": ANTHROPIC_CLIENT,
            "code": code,
            "state": state,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        client_id=ANTHROPIC_CLIENT,
    ),
    CodeClient(
        name="codex",
        authorize_path="/openai/oauth/authorize",
        redirect="http://localhost:1455/auth/callback",
        params=lambda redirect, challenge, state: {
            "response_type": "code",
            "client_id": CODEX_CLIENT,
            "redirect_uri": redirect,
            "scope": "openid profile email offline_access",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "originator": "pi",
        },
        exchange_path="/openai/oauth/token",
        exchange_form=True,
        exchange=lambda code, verifier, redirect, state: {
            "grant_type": "authorization_code",
            "client_id": CODEX_CLIENT,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect,
        },
        client_id=CODEX_CLIENT,
    ),
    CodeClient(
        name="openrouter",
        authorize_path="/openrouter/auth",
        redirect="http://127.0.0.1:40111/oauth/callback/0b7c2f3e-6a51-4f7e-9d0e-1f0a3c5b8e21",
        params=lambda redirect, challenge, state: {
            "callback_url": redirect,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        exchange_path="/openrouter/api/v1/auth/keys",
        exchange_form=False,
        exchange=lambda code, verifier, redirect, state: {
            "code": code,
            "code_verifier": verifier,
            "code_challenge_method": "S256",
        },
        state=False,
    ),
]


def _device_refresh_login(device: DeviceClient) -> Callable[[FakeProviders, httpx.Client], dict[str, str]]:
    """A login through the device flow over HTTP (approved by the test), as a refresh client needs."""

    def login(server: FakeProviders, http: httpx.Client) -> dict[str, str]:
        server.providers[device.name].min_poll_gap = 0
        started = device.start(http).json()
        server.providers[device.name].approve(started["user_code"])
        answer = device.poll(http, started["device_code"]).json()
        return {"access": answer["access_token"], "refresh": answer["refresh_token"]}

    return login


DEVICE_CLIENTS = [
    DeviceClient(
        name="github",
        client_id=GITHUB_CLIENT,
        device_path="/github/login/device/code",
        device_form={"scope": "read:user"},
        poll_path="/github/login/oauth/access_token",
        github=True,
    ),
    DeviceClient(
        name="xai",
        client_id=XAI_CLIENT,
        device_path="/xai-auth/oauth2/device/code",
        device_form={
            "scope": "openid profile email offline_access grok-cli:access api:access",
            "referrer": "pi",
        },
        poll_path="/xai-auth/oauth2/token",
    ),
    DeviceClient(
        name="kimi",
        client_id=KIMI_CLIENT,
        device_path="/kimi-auth/api/oauth/device_authorization",
        device_form={},
        poll_path="/kimi-auth/api/oauth/token",
    ),
    DeviceClient(
        name="meta",
        client_id=META_CLIENT,
        device_path="/meta-auth/oidc/device/authorization/",
        device_form={},
        poll_path="/meta-auth/oidc/device/token/",
    ),
]
DEVICES = {client.name: client for client in DEVICE_CLIENTS}


def _code_refresh_login(code_client: CodeClient) -> Callable[[FakeProviders, httpx.Client], dict[str, str]]:
    def login(server: FakeProviders, http: httpx.Client) -> dict[str, str]:
        answer = code_login(server, http, code_client).json()
        return {"access": answer["access_token"], "refresh": answer["refresh_token"]}

    return login


REFRESH_CLIENTS = [
    RefreshClient(
        "anthropic", ANTHROPIC_CLIENT, "/v1/oauth/token", False, _code_refresh_login(CODE_CLIENTS[0])
    ),
    RefreshClient("codex", CODEX_CLIENT, "/openai/oauth/token", True, _code_refresh_login(CODE_CLIENTS[1])),
    RefreshClient("xai", XAI_CLIENT, "/xai-auth/oauth2/token", True, _device_refresh_login(DEVICES["xai"])),
    RefreshClient(
        "kimi", KIMI_CLIENT, "/kimi-auth/api/oauth/token", True, _device_refresh_login(DEVICES["kimi"])
    ),
]


def by_name(clients: list[Any]) -> Any:
    """``pytest.mark.parametrize`` over ``clients``, with their names as ids."""
    return pytest.mark.parametrize("cli", clients, ids=[client.name for client in clients])


def send(http: httpx.Client, path: str, body: dict[str, str], form: bool) -> httpx.Response:
    """POST ``body`` as a form or as JSON."""
    headers = {"Accept": "application/json"}
    return (
        http.post(path, data=body, headers=headers) if form else http.post(path, json=body, headers=headers)
    )


def authorize_over_http(http: httpx.Client, cli: CodeClient, challenge: str, state: str) -> dict[str, str]:
    """GET the authorize page and return the query the browser is redirected back with."""
    response = http.get(cli.authorize_path, params=cli.params(cli.redirect, challenge, state))
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(cli.redirect + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def code_login(server: FakeProviders, http: httpx.Client, cli: CodeClient, **changes: str) -> httpx.Response:
    """A full authorization-code login over HTTP; ``changes`` alter the exchange body."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    code = authorize_over_http(http, cli, challenge, state)["code"]
    body = cli.exchange(code, verifier, cli.redirect, state) | changes
    return send(http, cli.exchange_path, body, cli.exchange_form)


def access_of(answer: dict[str, Any]) -> str:
    """The credential a token or key answer carries."""
    return answer.get("access_token") or answer["key"]


def test_every_configuration_is_registered_with_its_endpoints(fake: FakeProviders) -> None:
    ids = {fake.providers[name].config.provider_id for name in fake.providers}
    assert {"anthropic", "github-copilot", "openai-codex", "xai", "kimi-coding", "openrouter", "meta"} <= ids
    for name, provider in fake.providers.items():
        assert getattr(fake, name) is provider
        assert set(provider.config.endpoint_names()) <= set(ENDPOINTS)
        if provider.config.provider_id:
            assert fake.provider(provider.config.provider_id) is provider
    assert len(set(ENDPOINTS)) == len(ENDPOINTS)
    with pytest.raises(LookupError):
        fake.provider("nobody")


def test_every_endpoint_is_served_and_can_fail(fake: FakeProviders, client: httpx.Client) -> None:
    """Each endpoint name has a route: a queued fault on it comes back from its path."""
    paths = {
        "codex.models": ("GET", "/codex-api/codex/models"),
        "xai.device_code": ("POST", "/xai-auth/oauth2/device/code"),
        "kimi.poll": ("POST", "/kimi-auth/api/oauth/token"),
        "openrouter.exchange": ("POST", "/openrouter/api/v1/auth/keys"),
        "openrouter.key": ("GET", "/openrouter/api/v1/key"),
        "meta.mint": ("POST", "/meta-api/muse-code/key"),
        "meta.models": ("GET", "/meta-api/v1/models"),
    }
    for name, (method, path) in paths.items():
        fake.fail(name, status=418, body={"name": name})
        data = {"grant_type": DEVICE_GRANT} if name == "kimi.poll" else None
        response = client.request(method, path, data=data)
        assert (response.status_code, response.json()) == (418, {"name": name})
        assert fake.count(name) == 1


# --------------------------------------------------------------------------- authorization code


@by_name(CODE_CLIENTS)
def test_pkce_login_passes_the_state_through_and_issues_a_working_credential(
    fake: FakeProviders, client: httpx.Client, cli: CodeClient
) -> None:
    verifier, challenge = pkce()
    query = authorize_over_http(client, cli, challenge, "st4te-1")
    assert query.get("state") == ("st4te-1" if cli.state else None)
    assert len(query["code"]) >= 32
    body = cli.exchange(query["code"], verifier, cli.redirect, "st4te-1")
    response = send(client, cli.exchange_path, body, cli.exchange_form)
    assert response.status_code == 200, response.text
    provider = fake.providers[cli.name]
    assert provider.is_access_valid(access_of(response.json()))
    assert provider.issued[-1] == response.json()
    assert fake.count(f"{cli.name}.authorize") == 1
    assert fake.count(f"{cli.name}.exchange") == 1


@by_name(CODE_CLIENTS)
def test_a_code_is_single_use_and_burned_by_a_failed_exchange(
    fake: FakeProviders, client: httpx.Client, cli: CodeClient
) -> None:
    verifier, challenge = pkce()
    code = authorize_over_http(client, cli, challenge, "s")["code"]
    wrong = pkce()[0]
    failed = send(client, cli.exchange_path, cli.exchange(code, wrong, cli.redirect, "s"), cli.exchange_form)
    assert (failed.status_code, failed.json()["error"]) == (400, "invalid_grant")
    assert "code_verifier" in failed.json()["error_description"]
    again = send(
        client, cli.exchange_path, cli.exchange(code, verifier, cli.redirect, "s"), cli.exchange_form
    )
    assert again.json()["error"] == "invalid_grant"
    assert "already used" in again.json()["error_description"]
    fresh = code_login(fake, client, cli)
    assert fresh.status_code == 200


@by_name(CODE_CLIENTS)
def test_authorize_insists_on_s256_and_a_real_challenge(client: httpx.Client, cli: CodeClient) -> None:
    _, challenge = pkce()
    for change in ({"code_challenge_method": "plain"}, {"code_challenge": "short"}):
        params = cli.params(cli.redirect, challenge, "s") | change
        response = client.get(cli.authorize_path, params=params)
        assert response.status_code == 400
        assert "code_challenge" in response.text


@by_name([c for c in CODE_CLIENTS if c.client_id])
def test_authorize_and_exchange_check_the_client_id(
    fake: FakeProviders, client: httpx.Client, cli: CodeClient
) -> None:
    _, challenge = pkce()
    params = cli.params(cli.redirect, challenge, "s") | {"client_id": "someone-else"}
    assert client.get(cli.authorize_path, params=params).status_code == 400
    response = code_login(fake, client, cli, client_id="someone-else")
    assert response.json()["error"] == "invalid_client"


@by_name([c for c in CODE_CLIENTS if c.name != "openrouter"])
def test_redirect_uri_must_equal_the_authorize_one(
    fake: FakeProviders, client: httpx.Client, cli: CodeClient
) -> None:
    _, challenge = pkce()
    evil = cli.params("http://evil.example:1455/callback", challenge, "s")
    assert client.get(cli.authorize_path, params=evil).status_code == 400
    other = cli.redirect.replace("localhost", "127.0.0.1")
    response = code_login(fake, client, cli, redirect_uri=other)
    assert response.json()["error"] == "invalid_grant"
    assert "redirect_uri" in response.json()["error_description"]


@by_name(CODE_CLIENTS)
def test_the_exchange_insists_on_its_body_format(
    fake: FakeProviders, client: httpx.Client, cli: CodeClient
) -> None:
    verifier, challenge = pkce()
    code = authorize_over_http(client, cli, challenge, "s")["code"]
    body = cli.exchange(code, verifier, cli.redirect, "s")
    response = send(client, cli.exchange_path, body, not cli.exchange_form)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@by_name(CODE_CLIENTS)
def test_deny_next_authorize_redirects_with_the_error(
    client: httpx.Client, fake: FakeProviders, cli: CodeClient
) -> None:
    fake.providers[cli.name].deny_next_authorize()
    _, challenge = pkce()
    response = client.get(cli.authorize_path, params=cli.params(cli.redirect, challenge, "s"))
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert "code" not in query


# --------------------------------------------------------------------------- refresh


@by_name(REFRESH_CLIENTS)
def test_refresh_rotates_and_the_old_refresh_token_is_invalid_grant(
    fake: FakeProviders, client: httpx.Client, cli: RefreshClient
) -> None:
    first = cli.login(fake, client)
    response = cli.refresh(client, first["refresh"])
    assert response.status_code == 200, response.text
    answer = response.json()
    provider = fake.providers[cli.name]
    assert answer["refresh_token"] != first["refresh"]
    assert answer["access_token"] != first["access"]
    assert provider.is_access_valid(answer["access_token"])
    assert not provider.is_access_valid(first["access"])
    again = cli.refresh(client, first["refresh"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert cli.refresh(client, answer["refresh_token"]).status_code == 200
    assert fake.count(f"{cli.name}.refresh") == 3


@by_name(REFRESH_CLIENTS)
def test_refresh_without_rotation_or_without_a_refresh_token(
    fake: FakeProviders, client: httpx.Client, cli: RefreshClient
) -> None:
    provider = fake.providers[cli.name]
    tokens = cli.login(fake, client)
    provider.rotate = False
    same = cli.refresh(client, tokens["refresh"]).json()
    assert same["refresh_token"] == tokens["refresh"]
    provider.rotate = True
    provider.omit_refresh_token = True
    bare = cli.refresh(client, tokens["refresh"]).json()
    assert "refresh_token" not in bare
    assert provider.is_refresh_valid(tokens["refresh"])


@by_name(REFRESH_CLIENTS)
def test_refresh_checks_the_client_and_revocation(
    fake: FakeProviders, client: httpx.Client, cli: RefreshClient
) -> None:
    tokens = cli.login(fake, client)
    body = {"grant_type": "refresh_token", "client_id": "someone-else", "refresh_token": tokens["refresh"]}
    assert send(client, cli.token_path, body, cli.form).json()["error"] == "invalid_client"
    fake.providers[cli.name].revoke(tokens["refresh"])
    revoked = cli.refresh(client, tokens["refresh"])
    assert revoked.json()["error"] == "invalid_grant"
    assert not fake.providers[cli.name].is_access_valid(tokens["access"])


@by_name(REFRESH_CLIENTS)
def test_a_token_answer_can_lack_a_required_field(
    fake: FakeProviders, client: httpx.Client, cli: RefreshClient
) -> None:
    provider = fake.providers[cli.name]
    tokens = cli.login(fake, client)
    provider.omit_token_fields = ["access_token", "expires_in"]
    answer = cli.refresh(client, tokens["refresh"]).json()
    assert "access_token" not in answer and "expires_in" not in answer
    assert "refresh_token" in answer


# --------------------------------------------------------------------------- device flow


def start_device(http: httpx.Client, cli: DeviceClient) -> dict[str, Any]:
    response = cli.start(http)
    assert response.status_code == 200, response.text
    return response.json()


def poll_error(http: httpx.Client, cli: DeviceClient, device_code: str) -> tuple[int, str]:
    response = cli.poll(http, device_code)
    return response.status_code, response.json().get("error", "")


def error_status(cli: DeviceClient) -> int:
    """GitHub answers device errors with 200, RFC 8628 servers with 400."""
    return 200 if cli.github else 400


@by_name(DEVICE_CLIENTS)
def test_device_pending_then_approved_once(
    fake: FakeProviders, client: httpx.Client, cli: DeviceClient
) -> None:
    provider = fake.providers[cli.name]
    provider.min_poll_gap = 0
    started = start_device(client, cli)
    assert {"device_code", "user_code", "verification_uri", "expires_in", "interval"} <= set(started)
    assert started["verification_uri"].startswith("https://")
    assert provider.latest_user_code == started["user_code"]
    assert poll_error(client, cli, started["device_code"]) == (error_status(cli), "authorization_pending")
    assert provider.approve() == started["user_code"]
    answer = cli.poll(client, started["device_code"])
    assert answer.status_code == 200
    assert provider.is_access_valid(answer.json()["access_token"])
    assert poll_error(client, cli, started["device_code"]) == (error_status(cli), "incorrect_device_code")
    assert fake.count(f"{cli.name}.device_code") == 1
    assert fake.count(f"{cli.name}.poll") == 3


@by_name(DEVICE_CLIENTS)
def test_device_polled_too_fast_is_slow_down_with_a_longer_interval(
    fake: FakeProviders, client: httpx.Client, cli: DeviceClient
) -> None:
    provider = fake.providers[cli.name]
    provider.interval = 1
    provider.min_poll_gap = 60
    started = start_device(client, cli)
    response = cli.poll(client, started["device_code"])
    assert (response.status_code, response.json()["error"]) == (error_status(cli), "slow_down")
    assert response.json()["interval"] == 6
    provider.min_poll_gap = 0
    provider.slow_down_gap_scale = 0
    code = start_device(client, cli)["device_code"]
    provider.force_slow_down()
    assert poll_error(client, cli, code)[1] == "slow_down"
    assert poll_error(client, cli, code)[1] == "authorization_pending"


@by_name(DEVICE_CLIENTS)
def test_device_denied_and_expired(fake: FakeProviders, client: httpx.Client, cli: DeviceClient) -> None:
    provider = fake.providers[cli.name]
    provider.min_poll_gap = 0
    denied = start_device(client, cli)
    provider.deny(denied["user_code"])
    assert poll_error(client, cli, denied["device_code"]) == (error_status(cli), "access_denied")
    expired = start_device(client, cli)
    provider.expire_device_codes()
    assert poll_error(client, cli, expired["device_code"]) == (error_status(cli), "expired_token")
    provider.device_expires_in = 0.05
    short = start_device(client, cli)
    time.sleep(0.1)
    assert poll_error(client, cli, short["device_code"])[1] == "expired_token"


@by_name(DEVICE_CLIENTS)
def test_device_auto_approval_after_pending_polls(
    fake: FakeProviders, client: httpx.Client, cli: DeviceClient
) -> None:
    provider = fake.providers[cli.name]
    provider.min_poll_gap = 0
    provider.auto_approve = 1
    code = start_device(client, cli)["device_code"]
    assert poll_error(client, cli, code)[1] == "authorization_pending"
    assert cli.poll(client, code).status_code == 200
    provider.auto_approve = 0
    immediate = start_device(client, cli)["device_code"]
    assert "access_token" in cli.poll(client, immediate).json()


@by_name(DEVICE_CLIENTS)
def test_device_checks_client_grant_type_and_body_format(
    fake: FakeProviders, client: httpx.Client, cli: DeviceClient
) -> None:
    bad_client = "incorrect_client_credentials" if cli.github else "invalid_client"
    assert cli.start(client, client_id="someone-else").json()["error"] == bad_client
    code = start_device(client, cli)["device_code"]
    assert cli.poll(client, code, grant_type="password").json()["error"] == "unsupported_grant_type"
    as_json = client.post(
        cli.device_path,
        json={"client_id": cli.client_id} | cli.device_form,
        headers={"Accept": "application/json"},
    )
    assert "form-encoded" in as_json.json()["error_description"]


@by_name(DEVICE_CLIENTS)
def test_device_bad_input_modes(fake: FakeProviders, client: httpx.Client, cli: DeviceClient) -> None:
    provider = fake.providers[cli.name]
    provider.interval = "soon"
    provider.verification_uri = "javascript:alert(1)"
    provider.omit_device_fields = ["expires_in"]
    started = start_device(client, cli)
    assert started["interval"] == "soon"
    assert started["verification_uri"] == "javascript:alert(1)"
    assert "expires_in" not in started
    provider.disable_device_flow = True
    assert cli.start(client).json()["error"] in {"device_flow_disabled", "unauthorized_client"}


@by_name([c for c in DEVICE_CLIENTS if not c.github])
def test_device_answer_carries_verification_uri_complete(
    fake: FakeProviders, client: httpx.Client, cli: DeviceClient
) -> None:
    started = start_device(client, cli)
    complete = urlsplit(started["verification_uri_complete"])
    assert parse_qs(complete.query)["user_code"] == [started["user_code"]]
    fake.providers[cli.name].verification_uri_complete = "ftp://example.com/device"
    assert start_device(client, cli)["verification_uri_complete"] == "ftp://example.com/device"


# --------------------------------------------------------------------------- provider-specific


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_codex_access_token_is_a_jwt_with_the_account_claim(
    fake: FakeProviders, client: httpx.Client
) -> None:
    answer = code_login(fake, client, CODE_CLIENTS[1]).json()
    claim = jwt_claims(answer["access_token"])["https://api.openai.com/auth"]
    assert claim["chatgpt_account_id"] == fake.codex.account_id
    assert "https://api.openai.com/auth" in jwt_claims(answer["id_token"])
    headers = {
        "Authorization": f"Bearer {answer['access_token']}",
        "chatgpt-account-id": fake.codex.account_id,
    }
    assert client.get("/codex-api/codex/models", headers=headers).status_code == 200
    assert client.get("/codex-api/wham/usage", headers=headers).json()["plan_type"] == "plus"
    wrong = headers | {"chatgpt-account-id": "acct_other"}
    assert client.get("/codex-api/codex/models", headers=wrong).status_code == 403
    assert (
        client.get("/codex-api/codex/models", headers=headers | {"Authorization": "Bearer x"}).status_code
        == 401
    )
    fake.codex.account_id = None
    bare = code_login(fake, client, CODE_CLIENTS[1]).json()
    assert "https://api.openai.com/auth" not in jwt_claims(bare["access_token"])


def test_codex_device_flow_ends_in_a_code_for_the_deviceauth_callback(
    fake: FakeProviders, client: httpx.Client
) -> None:
    fake.codex.min_poll_gap = 0
    started = client.post("/openai/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT})
    assert started.status_code == 200
    info = started.json()
    assert info["interval"] == "5"
    body = {"device_auth_id": info["device_auth_id"], "user_code": info["user_code"]}
    pending = client.post("/openai/api/accounts/deviceauth/token", json=body)
    assert (pending.status_code, pending.json()["error"]["code"]) == (403, "deviceauth_authorization_pending")
    mismatch = client.post("/openai/api/accounts/deviceauth/token", json=body | {"user_code": "XXXX-0000"})
    assert mismatch.status_code == 400
    fake.codex.approve()
    done = client.post("/openai/api/accounts/deviceauth/token", json=body).json()
    assert pkce_pair_matches(done["code_verifier"], done["code_challenge"])
    exchange_body = {
        "grant_type": "authorization_code",
        "client_id": CODEX_CLIENT,
        "code": done["authorization_code"],
        "code_verifier": done["code_verifier"],
        "redirect_uri": "https://auth.openai.com/deviceauth/callback",
    }
    tokens = client.post("/openai/oauth/token", data=exchange_body)
    assert tokens.status_code == 200, tokens.text
    assert fake.codex.is_access_valid(tokens.json()["access_token"])
    assert [fake.count(n) for n in ("codex.device_code", "codex.poll", "codex.exchange")] == [1, 3, 1]


def test_codex_device_code_404_when_disabled_and_wrong_client(
    fake: FakeProviders, client: httpx.Client
) -> None:
    assert client.post("/openai/api/accounts/deviceauth/usercode", json={"client_id": "x"}).status_code == 400
    fake.codex.device_enabled = False
    assert (
        client.post("/openai/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT}).status_code
        == 404
    )


def pkce_pair_matches(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


def test_openrouter_key_works_never_expires_and_needs_s256_in_the_exchange(
    fake: FakeProviders, client: httpx.Client
) -> None:
    cli = CODE_CLIENTS[2]
    assert code_login(fake, client, cli, code_challenge_method="plain").json()["error"] == "invalid_request"
    answer = code_login(fake, client, cli).json()
    assert set(answer) == {"key", "user_id"}
    assert answer["key"].startswith("sk-or-v1-")
    fresh = code_login(fake, client, cli).json()["key"]
    assert (
        client.get("/openrouter/api/v1/key", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )
    assert client.get("/openrouter/api/v1/models/user", headers={"Authorization": f"Bearer {fresh}"}).json()[
        "data"
    ]
    assert client.get("/openrouter/api/v1/key", headers={"Authorization": "Bearer nope"}).status_code == 401
    fake.openrouter.omit_token_fields = ["key"]
    assert "key" not in code_login(fake, client, cli).json()


def meta_identity(server: FakeProviders, http: httpx.Client) -> str:
    """An identity token from Meta's device flow (which issues no refresh token)."""
    cli = DEVICES["meta"]
    server.meta.min_poll_gap = 0
    started = start_device(http, cli)
    server.meta.approve(started["user_code"])
    answer = cli.poll(http, started["device_code"]).json()
    assert "refresh_token" not in answer
    return answer["access_token"]


def mint(http: httpx.Client, identity: str, **headers: str) -> httpx.Response:
    base = {"Authorization": f"Bearer {identity}", "x-api-version": "1.0.0", "Accept": "application/json"}
    return http.post("/meta-api/muse-code/key", json={}, headers=base | headers)


def test_meta_mints_a_key_with_the_identity_token(fake: FakeProviders, client: httpx.Client) -> None:
    identity = meta_identity(fake, client)
    minted = mint(client, identity)
    assert minted.status_code == 200
    key = minted.json()["api_key"]
    assert client.get("/meta-api/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    again = mint(client, identity).json()["api_key"]
    assert again != key and fake.meta.minted == [key, again]
    assert mint(client, identity, **{"x-api-version": "2.0.0"}).status_code == 400
    assert mint(client, "not-an-identity").status_code == 401
    assert client.get("/meta-api/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(("mode", "status"), [("expired", 401), ("forbidden", 403), ("no_key", 200)])
def test_meta_mint_failure_modes(fake: FakeProviders, client: httpx.Client, mode: str, status: int) -> None:
    identity = meta_identity(fake, client)
    fake.meta.mint_mode = mode
    answer = mint(client, identity)
    assert answer.status_code == status
    assert "api_key" not in answer.json()
    if mode == "no_key":
        assert answer.json()["action_url"].startswith("https://")


def test_xai_requires_the_referrer_and_scopes(fake: FakeProviders, client: httpx.Client) -> None:
    cli = DEVICES["xai"]
    assert cli.start(client, referrer="").json()["error"] == "invalid_request"
    assert cli.start(client, scope="openid").json()["error"] == "invalid_scope"
    tokens = _device_refresh_login(cli)(fake, client)
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    assert client.get("/xai-api/models", headers=headers).json()["data"]
    assert client.get("/xai-api/models", headers={"Authorization": "Bearer x"}).status_code == 401


def test_kimi_api_test_call(fake: FakeProviders, client: httpx.Client) -> None:
    tokens = _device_refresh_login(DEVICES["kimi"])(fake, client)
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    assert client.get("/kimi-api/models", headers=headers).status_code == 200
    fake.kimi.expire_access_tokens()
    assert client.get("/kimi-api/models", headers=headers).status_code == 401


def test_codex_first_device_poll_is_immediate_and_the_overridden_callback_works(
    fake: FakeProviders, client: httpx.Client
) -> None:
    info = client.post("/openai/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT}).json()
    body = {"device_auth_id": info["device_auth_id"], "user_code": info["user_code"]}
    assert client.post("/openai/api/accounts/deviceauth/token", json=body).status_code == 403
    too_fast = client.post("/openai/api/accounts/deviceauth/token", json=body)
    assert (too_fast.status_code, too_fast.json()["error"]["code"]) == (400, "slow_down")
    fake.codex.auto_approve = 0
    started = client.post("/openai/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT}).json()
    body = {"device_auth_id": started["device_auth_id"], "user_code": started["user_code"]}
    done = client.post("/openai/api/accounts/deviceauth/token", json=body).json()
    exchange_body = {
        "grant_type": "authorization_code",
        "client_id": CODEX_CLIENT,
        "code": done["authorization_code"],
        "code_verifier": done["code_verifier"],
        "redirect_uri": f"{fake.base}/openai/deviceauth/callback",
    }
    assert client.post("/openai/oauth/token", data=exchange_body).status_code == 200


def test_control_endpoints_drive_any_provider(fake: FakeProviders, client: httpx.Client) -> None:
    client.post("/_control/configure", json={"xai.min_poll_gap": 0, "xai.interval": 1})
    started = start_device(client, DEVICES["xai"])
    assert started["interval"] == 1
    approved = client.post("/_control/approve", json={"provider": "xai"}).json()
    assert approved == {"user_code": started["user_code"]}
    tokens = DEVICES["xai"].poll(client, started["device_code"]).json()
    client.post("/_control/revoke", json={"provider": "xai"})
    assert not fake.xai.is_refresh_valid(tokens["refresh_token"])
    seeded = client.post("/_control/seed", json={"provider": "kimi"}).json()
    assert fake.kimi.is_access_valid(seeded["access"])
    client.post("/_control/expire", json={"provider": "kimi"})
    assert not fake.kimi.is_access_valid(seeded["access"])
    assert client.post("/_control/seed", json={"provider": "nobody"}).status_code == 400
