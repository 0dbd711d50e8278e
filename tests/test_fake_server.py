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
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.fakes import ENDPOINTS, FakeProviders, fixtures

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
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(fake: FakeProviders) -> Iterator[httpx.Client]:
    """An httpx client with the fake as base URL."""
    with httpx.Client(base_url=fake.base, timeout=5) as http:
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
            with httpx.stream("GET", server.base + path, timeout=30) as response:
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
        httpx.get(fake.base + "/github-api/user")
    time.sleep(0.2)
    assert httpx.get(fake.base + "/github-api/user").status_code == 401
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
    fast_device_flow(fake, gap=0.05)
    code = device_code(client)["device_code"]
    first = poll(client, code)
    assert first["error"] == "slow_down"
    assert first["interval"] == 6
    time.sleep(0.07)
    second = poll(client, code)
    assert second["error"] == "slow_down"
    assert second["interval"] == 11
    time.sleep(0.2)
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
    with httpx.stream("POST", fake.base + "/v1/messages", timeout=2) as response:
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
        httpx.post(fake.base + "/v1/messages", timeout=0.3)


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
        with httpx.Client(base_url=base, timeout=5) as http:
            assert device_code(http)["interval"] == 2
            assert http.get("/_control/counts").json()["github.device_code"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()
