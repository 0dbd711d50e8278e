"""xAI: device login, polling, refresh that keeps the refresh token, status, PiAuth and bad
input, over real HTTP to the loopback fake."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import PiAuth
from app.credentials import State
from app.errors import ConfigError, DeviceFlowError, NetworkError, RefreshError
from app.flows.device import DeviceLogin, PollEvent
from app.mask import mask
from app.providers import xai
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import DEVICE_SCALE, device_service, now_ms

PROVIDER = "xai"
SCALE = DEVICE_SCALE
MINUTE_MS = 60_000
CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def make_service(fake: FakeProviders, tmp_path: Path, **env: str) -> AuthService:
    return device_service(fake, tmp_path, **env)


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    # Polls come 50 ms apart; the fake would call that "too soon" at its default 5 s gap.
    fake.xai.min_poll_gap = 0.0
    return make_service(fake, tmp_path)


def seed(fake: FakeProviders, store: CredentialStore, *, expires: int) -> dict[str, Any]:
    """A live xAI login from the fake, stored as pi stores it."""
    tokens = fake.xai.seed_login()
    entry = {"type": "oauth", "access": tokens["access"], "refresh": tokens["refresh"], "expires": expires}
    store.put(PROVIDER, entry)
    return entry


async def run_poll(
    login: DeviceLogin[Any], on_event: Callable[[PollEvent], None] | None = None
) -> list[PollEvent]:
    events: list[PollEvent] = []
    async for event in login.poll():
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


def approve_when_waiting(fake: FakeProviders) -> Callable[[PollEvent], None]:
    def on_event(event: PollEvent) -> None:
        if event.kind == "waiting":
            fake.xai.approve()

    return on_event


# -- device login ----------------------------------------------------------------------


async def test_device_login_stores_pis_four_fields(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER)
    assert login.title == "Log in to xAI (Grok/X subscription)"
    assert login.verification_uri == "https://accounts.x.ai/device"
    # The complete link (code filled in) is the one shown and opened.
    assert login.link == f"https://accounts.x.ai/device?user_code={login.user_code}"
    assert login.instructions == f"Open {login.link} and confirm this code:"
    assert login.interval == 5.0

    events = await run_poll(login, approve_when_waiting(fake))

    assert [e.kind for e in events] == ["waiting", "done"]
    entry = service.store.get(PROVIDER)
    assert entry is not None and set(entry) == {"type", "access", "refresh", "expires"}
    assert entry["type"] == "oauth"
    assert fake.xai.is_access_valid(entry["access"]) and fake.xai.is_refresh_valid(entry["refresh"])
    # expires = now + expires_in·1000 − 5 min (pi's buffer).
    assert abs(entry["expires"] - (now_ms() + 3600_000 - 5 * MINUTE_MS)) < 5_000
    assert service.status(PROVIDER).state is State.LOGGED_IN


async def test_device_and_poll_requests_are_pis(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER)
    await run_poll(login, approve_when_waiting(fake))
    (device,) = fake.requests_for("xai.device_code")
    assert device.data == {
        "client_id": CLIENT_ID,
        "scope": "openid profile email offline_access grok-cli:access api:access",
        "referrer": "pi",
    }
    assert device.headers["accept"] == "application/json"
    assert "application/x-www-form-urlencoded" in device.headers["content-type"]
    polls = fake.requests_for("xai.poll")
    assert len(polls) == 2
    for poll in polls:
        assert poll.data == {
            "grant_type": DEVICE_GRANT,
            "client_id": CLIENT_ID,
            "device_code": poll.data["device_code"],
        }
    # One interval is waited before the first poll, and between polls.
    times = [device.time, *(p.time for p in polls)]
    assert all(later - earlier >= 5 * SCALE for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        ("access_denied", "xAI device authorization was denied."),
        ("authorization_denied", "xAI device authorization was denied."),
        ("expired_token", "xAI device code expired"),
        ("something_new", "xAI stopped the login (Unexpected thing). Start again."),
    ],
)
async def test_poll_errors_stop_with_pis_sentences(
    service: AuthService, fake: FakeProviders, error: str, sentence: str
) -> None:
    fake.fail("xai.poll", status=400, body={"error": error, "error_description": "Unexpected thing"})
    login = await service.start_login(PROVIDER)
    with pytest.raises(DeviceFlowError) as caught:
        await run_poll(login)
    assert str(caught.value).startswith(sentence)
    assert fake.count("xai.poll") == 1 and service.store.get(PROVIDER) is None


# -- bad input: a sentence, nothing stored, nothing lost ---------------------------------


@pytest.mark.parametrize(
    "uri",
    ["http://accounts.x.ai/device", "javascript:alert(1)", "file:///etc/passwd", "accounts.x.ai/device", ""],
)
async def test_verification_uri_must_be_https(service: AuthService, fake: FakeProviders, uri: str) -> None:
    fake.xai.verification_uri = uri
    with pytest.raises(DeviceFlowError, match="not an https:// link"):
        await service.start_login(PROVIDER)
    assert fake.count("xai.poll") == 0


async def test_complete_uri_must_be_https_too(service: AuthService, fake: FakeProviders) -> None:
    fake.xai.verification_uri_complete = "http://accounts.x.ai/device?user_code=X"
    with pytest.raises(DeviceFlowError, match="not an https:// link"):
        await service.start_login(PROVIDER)


async def test_without_complete_uri_the_plain_one_is_shown(service: AuthService, fake: FakeProviders) -> None:
    fake.xai.omit_device_fields = ["verification_uri_complete"]
    login = await service.start_login(PROVIDER)
    assert login.link == "https://accounts.x.ai/device"
    assert login.instructions == "Open https://accounts.x.ai/device and enter this code:"


@pytest.mark.parametrize("expires_in", [0, -1, "later", None])
async def test_code_lifetime_is_required(
    service: AuthService, fake: FakeProviders, expires_in: object
) -> None:
    fake.xai.device_expires_in = expires_in
    with pytest.raises(DeviceFlowError, match="did not say how long the code is valid"):
        await service.start_login(PROVIDER)


@pytest.mark.parametrize(
    ("missing", "sentence"),
    [("access_token", "had no access token"), ("refresh_token", "had no refresh token")],
)
async def test_login_answer_missing_a_token_stores_nothing(
    service: AuthService, fake: FakeProviders, tmp_path: Path, missing: str, sentence: str
) -> None:
    other = {
        "type": "oauth",
        "access": "other-access-token-1234",
        "refresh": "other-refresh-1234",
        "expires": 1,
    }
    service.store.put("anthropic", other)
    fake.xai.omit_token_fields = [missing]
    login = await service.start_login(PROVIDER)
    with pytest.raises(NetworkError, match=sentence):
        await run_poll(login, approve_when_waiting(fake))
    assert service.store.get(PROVIDER) is None
    assert service.store.get("anthropic") == other


async def test_missing_token_lifetime_means_an_hour(service: AuthService, fake: FakeProviders) -> None:
    fake.xai.omit_token_fields = ["expires_in"]
    login = await service.start_login(PROVIDER)
    await run_poll(login, approve_when_waiting(fake))
    entry = service.store.get(PROVIDER)
    assert entry is not None and abs(entry["expires"] - (now_ms() + 55 * MINUTE_MS)) < 5_000


# -- refresh -----------------------------------------------------------------------------


async def test_refresh_rotates_and_sends_pis_form(service: AuthService, fake: FakeProviders) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    token = await service.get_token(PROVIDER)
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["access"] == token != old["access"]
    assert entry["refresh"] != old["refresh"] and fake.xai.is_refresh_valid(entry["refresh"])
    assert set(entry) == {"type", "access", "refresh", "expires"}
    (request,) = fake.requests_for("xai.refresh")
    assert request.data == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": old["refresh"],
    }
    assert await service.get_token(PROVIDER) == token and fake.count("xai.refresh") == 1


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.xai.omit_refresh_token = True
    token = await service.get_token(PROVIDER)
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["access"] == token != old["access"]
    assert entry["refresh"] == old["refresh"]
    assert "refresh_token" not in fake.xai.issued[-1]


async def test_revoked_refresh_keeps_the_login(service: AuthService, fake: FakeProviders) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.xai.revoke_all()
    with pytest.raises(RefreshError) as caught:
        await service.get_token(PROVIDER)
    assert caught.value.revoked is True
    assert str(caught.value) == (
        "xAI no longer accepts this login (it was revoked or has expired). "
        "Log in again with `pi-tui login xai`."
    )
    assert service.store.get(PROVIDER) == old
    status = service.status(PROVIDER)
    assert status.state is State.REFRESH_FAILED and status.last_error == str(caught.value)


async def test_refresh_answer_without_access_token_keeps_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.xai.omit_token_fields = ["access_token"]
    with pytest.raises(NetworkError, match="xAI's answer had no access token"):
        await service.refresh(PROVIDER)
    assert service.store.get(PROVIDER) == old


# -- status, test call, PiAuth, masking ---------------------------------------------------


async def test_test_call_lists_models_with_bearer(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    assert await service.test(PROVIDER) == "OK: 2 models available."
    (request,) = fake.requests_for("xai.models")
    assert request.headers["authorization"] == f"Bearer {entry['access']}"


def test_status_rows_show_the_api_base_only_when_overridden(fake: FakeProviders) -> None:
    entry = {"type": "oauth", "access": "a", "refresh": "r", "expires": 1}
    assert xai.status_rows(xai.endpoints({}), entry) == []
    assert xai.status_rows(xai.endpoints(fake.env()), entry) == [("API base", f"{fake.base}/xai-api")]
    with pytest.raises(ConfigError, match="PI_TUI_XAI_AUTH_URL must use https://"):
        xai.endpoints({"PI_TUI_XAI_AUTH_URL": "http://auth.x.ai"})


async def test_status_never_shows_a_token(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    status = service.status(PROVIDER)
    shown = json.dumps([str(field) for field in status])
    assert entry["access"] not in shown and entry["refresh"] not in shown
    assert mask(entry["access"]).endswith(entry["access"][-4:]) and mask(entry["access"]) != entry["access"]


async def test_pi_auth_signs_with_bearer_and_refreshes_on_401(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    fake.xai.expire_access_tokens()
    auth = PiAuth(service, PROVIDER)
    assert auth.base_url() == f"{fake.base}/xai-api"
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.get("/models")
    assert response.status_code == 200
    first, second = fake.requests_for("xai.models")
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["access"] != old["access"]
    assert first.headers["authorization"] == f"Bearer {old['access']}"
    assert second.headers["authorization"] == f"Bearer {entry['access']}"
