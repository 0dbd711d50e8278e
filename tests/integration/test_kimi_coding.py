"""Kimi Code: device login, polling, refresh with retries inside the deadline, revoked refresh,
status, PiAuth and bad input, over real HTTP to the loopback fake."""

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
from app.providers import kimi_coding
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import DEVICE_SCALE, device_service, now_ms

PROVIDER = "kimi-coding"
SCALE = DEVICE_SCALE
MINUTE_MS = 60_000
CLIENT_ID = "17e5f671-d194-4dfb-9706-5516cb48c098"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REVOKED = (
    "Kimi Code refresh unauthorized: the login was revoked or has expired. "
    "Log in again with `pi-tui login kimi-coding`."
)


def make_service(fake: FakeProviders, tmp_path: Path, **env: str) -> AuthService:
    return device_service(fake, tmp_path, **env)


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    # Polls come 50 ms apart; the fake would call that "too soon" at its default 5 s gap.
    fake.kimi.min_poll_gap = 0.0
    return make_service(fake, tmp_path)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> tuple[float, ...]:
    """The 1/2/4 s backoff shrunk 100×; the overall deadline left as it is."""
    delays = (0.01, 0.02, 0.04)
    monkeypatch.setattr(kimi_coding, "RETRY_DELAYS_S", delays)
    return delays


def seed(fake: FakeProviders, store: CredentialStore, *, expires: int) -> dict[str, Any]:
    """A live Kimi login from the fake, stored as pi stores it."""
    tokens = fake.kimi.seed_login()
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
            fake.kimi.approve()

    return on_event


# -- device login ----------------------------------------------------------------------


async def test_device_login_stores_pis_four_fields(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER)
    assert login.title == "Log in to Kimi Code (subscription)"
    assert login.verification_uri == "https://www.kimi.com/code/authorize_device"
    assert login.link == f"https://www.kimi.com/code/authorize_device?user_code={login.user_code}"
    assert login.instructions == f"Open {login.link} and confirm this code:"
    assert abs(login.expires_at_ms - (now_ms() + 900_000)) < 5_000

    events = await run_poll(login, approve_when_waiting(fake))

    assert [e.kind for e in events] == ["waiting", "done"]
    entry = service.store.get(PROVIDER)
    assert entry is not None and set(entry) == {"type", "access", "refresh", "expires"}
    assert fake.kimi.is_access_valid(entry["access"]) and fake.kimi.is_refresh_valid(entry["refresh"])
    # expires = now + expires_in·1000, no buffer (the fake's tokens live 900 s).
    assert abs(entry["expires"] - (now_ms() + 900_000)) < 5_000


async def test_device_and_poll_requests_are_pis(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login(PROVIDER)
    await run_poll(login, approve_when_waiting(fake))
    (device,) = fake.requests_for("kimi.device_code")
    assert device.data == {"client_id": CLIENT_ID}  # no scope
    assert device.headers["accept"] == "application/json"
    assert "application/x-www-form-urlencoded" in device.headers["content-type"]
    polls = fake.requests_for("kimi.poll")
    assert len(polls) == 2
    for poll in polls:
        assert set(poll.data) == {"client_id", "device_code", "grant_type"}
        assert poll.data["client_id"] == CLIENT_ID and poll.data["grant_type"] == DEVICE_GRANT
    # One interval is waited before the first poll, and between polls.
    times = [device.time, *(p.time for p in polls)]
    assert all(later - earlier >= 5 * SCALE for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        ("expired_token", "Kimi Code device code expired. Please restart login."),
        ("access_denied", "Kimi Code login was denied."),
        ("something_new", "Kimi Code stopped the login (Unexpected thing). Start again."),
    ],
)
async def test_poll_errors_stop_with_pis_sentences(
    service: AuthService, fake: FakeProviders, error: str, sentence: str
) -> None:
    fake.fail("kimi.poll", status=400, body={"error": error, "error_description": "Unexpected thing"})
    login = await service.start_login(PROVIDER)
    with pytest.raises(DeviceFlowError) as caught:
        await run_poll(login)
    assert str(caught.value).startswith(sentence)
    assert fake.count("kimi.poll") == 1 and service.store.get(PROVIDER) is None


async def test_server_error_while_polling_fails_the_login(service: AuthService, fake: FakeProviders) -> None:
    # One 5xx is asked again (tests/http/test_device_polls_survive_server_errors.py); a server
    # failing poll after poll ends the login.
    fake.fail("kimi.poll", status=502, body={"error": "bad_gateway"}, times=10)
    login = await service.start_login(PROVIDER)
    with pytest.raises(NetworkError, match=r"Kimi Code had a server error \(HTTP 502\)"):
        await run_poll(login)
    assert fake.count("kimi.poll") == 4 and service.store.get(PROVIDER) is None


# -- bad input: a sentence, nothing stored, nothing lost ---------------------------------


@pytest.mark.parametrize("field", ["verification_uri", "verification_uri_complete"])
@pytest.mark.parametrize("uri", ["javascript:alert(1)", "file:///etc/passwd", "ftp://kimi.com/x", ""])
async def test_both_verification_uris_must_be_web_links(
    service: AuthService, fake: FakeProviders, field: str, uri: str
) -> None:
    setattr(fake.kimi, field, uri)
    with pytest.raises(DeviceFlowError, match="not a web link"):
        await service.start_login(PROVIDER)
    assert fake.count("kimi.poll") == 0


async def test_missing_complete_uri_is_refused(service: AuthService, fake: FakeProviders) -> None:
    fake.kimi.omit_device_fields = ["verification_uri_complete"]
    with pytest.raises(DeviceFlowError, match="not a web link"):
        await service.start_login(PROVIDER)


async def test_code_lifetime_defaults_to_900_seconds(service: AuthService, fake: FakeProviders) -> None:
    fake.kimi.omit_device_fields = ["expires_in"]
    login = await service.start_login(PROVIDER)
    assert abs(login.expires_at_ms - (now_ms() + 900_000)) < 5_000


@pytest.mark.parametrize(
    ("omit", "expires_in", "sentence"),
    [
        (["access_token"], 900, "had no access token"),
        (["refresh_token"], 900, "had no refresh token"),
        (["expires_in"], 900, "did not say when the token expires"),
        ([], 0, "did not say when the token expires"),
        ([], "soon", "did not say when the token expires"),
    ],
)
async def test_login_answer_missing_a_field_stores_nothing(
    service: AuthService, fake: FakeProviders, omit: list[str], expires_in: object, sentence: str
) -> None:
    other = {
        "type": "oauth",
        "access": "other-access-token-1234",
        "refresh": "other-refresh-1234",
        "expires": 1,
    }
    service.store.put("anthropic", other)
    fake.kimi.omit_token_fields = omit
    fake.kimi.expires_in = expires_in
    login = await service.start_login(PROVIDER)
    with pytest.raises(NetworkError, match=sentence):
        await run_poll(login, approve_when_waiting(fake))
    assert service.store.get(PROVIDER) is None
    assert service.store.get("anthropic") == other


# -- refresh -----------------------------------------------------------------------------


async def test_refresh_rotates_and_sends_pis_form(service: AuthService, fake: FakeProviders) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    token = await service.get_token(PROVIDER)
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["access"] == token != old["access"]
    assert entry["refresh"] != old["refresh"] and fake.kimi.is_refresh_valid(entry["refresh"])
    assert abs(entry["expires"] - (now_ms() + 900_000)) < 5_000
    (request,) = fake.requests_for("kimi.refresh")
    assert request.data == {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": old["refresh"],
    }


async def test_refresh_without_a_new_refresh_token_fails_and_keeps_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.kimi.omit_refresh_token = True
    with pytest.raises(NetworkError, match="Kimi Code's answer had no refresh token"):
        await service.get_token(PROVIDER)
    assert service.store.get(PROVIDER) == old


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_refresh_retries_server_errors_then_succeeds(
    service: AuthService, fake: FakeProviders, fast_retries: tuple[float, ...], status: int
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", status=status, body={"error": "busy"}, times=3)
    token = await service.get_token(PROVIDER)
    assert token != old["access"] and fake.kimi.is_access_valid(token)
    attempts = fake.requests_for("kimi.refresh")
    assert len(attempts) == 4
    # Each retry waited its backoff: 1, 2, 4 (scaled).
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= delay for gap, delay in zip(gaps, fast_retries, strict=True))


async def test_refresh_retries_a_dropped_connection(
    service: AuthService, fake: FakeProviders, fast_retries: tuple[float, ...]
) -> None:
    seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", kind="reset", times=2)
    token = await service.get_token(PROVIDER)
    assert fake.kimi.is_access_valid(token) and fake.count("kimi.refresh") == 3


async def test_refresh_gives_up_after_three_retries_and_keeps_the_login(
    service: AuthService, fake: FakeProviders, fast_retries: tuple[float, ...]
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", status=503, body={"error": "busy"}, times=10)
    with pytest.raises(NetworkError) as caught:
        await service.get_token(PROVIDER)
    assert str(caught.value) == (
        "Kimi Code had a server error (HTTP 503); try again in a moment (tried 4 times)."
    )
    assert fake.count("kimi.refresh") == 4
    assert service.store.get(PROVIDER) == old


async def test_refresh_stops_retrying_at_the_overall_deadline(
    service: AuthService, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first backoff would end after the deadline: no second request.
    monkeypatch.setattr(kimi_coding, "RETRY_DELAYS_S", (5.0, 5.0, 5.0))
    monkeypatch.setattr(kimi_coding, "REFRESH_DEADLINE_S", 1.0)
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", status=503, body={"error": "busy"}, times=10)
    with pytest.raises(NetworkError, match=r"HTTP 503"):
        await service.get_token(PROVIDER)
    assert fake.count("kimi.refresh") == 1 and service.store.get(PROVIDER) == old


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "unauthorized"}),
        (403, {"error": "forbidden"}),
        (400, {"error": "invalid_grant"}),
        (401, None),  # no JSON body at all
    ],
)
async def test_refresh_unauthorized_is_revoked_and_keeps_the_login(
    service: AuthService, fake: FakeProviders, fast_retries: tuple[float, ...], status: int, body: Any
) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", status=status, body=body, times=5)
    with pytest.raises(RefreshError) as caught:
        await service.get_token(PROVIDER)
    assert caught.value.revoked is True and str(caught.value) == REVOKED
    assert fake.count("kimi.refresh") == 1  # never retried
    assert service.store.get(PROVIDER) == old
    status_now = service.status(PROVIDER)
    assert status_now.state is State.REFRESH_FAILED and status_now.last_error == REVOKED


async def test_revoked_refresh_token_in_the_fake(service: AuthService, fake: FakeProviders) -> None:
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.kimi.revoke_all()
    with pytest.raises(RefreshError, match="refresh unauthorized"):
        await service.refresh(PROVIDER)
    assert service.store.get(PROVIDER) == old


# -- endpoints, status, test call, PiAuth, masking ----------------------------------------


def test_auth_host_overrides_in_pis_order(fake: FakeProviders) -> None:
    assert kimi_coding.endpoints({}).auth == "https://auth.kimi.com"
    assert kimi_coding.endpoints({"KIMI_OAUTH_HOST": "https://b.example/"}).auth == "https://b.example"
    both = {"KIMI_CODE_OAUTH_HOST": "https://a.example", "KIMI_OAUTH_HOST": "https://b.example"}
    assert kimi_coding.endpoints(both).auth == "https://a.example"
    assert (
        kimi_coding.endpoints({**both, "PI_TUI_KIMI_AUTH_URL": "https://c.example"}).auth
        == "https://c.example"
    )
    with pytest.raises(ConfigError, match="KIMI_CODE_OAUTH_HOST must use https://"):
        kimi_coding.endpoints({"KIMI_CODE_OAUTH_HOST": "http://auth.kimi.com"})
    assert kimi_coding.endpoints({"KIMI_OAUTH_HOST": "http://127.0.0.1:9"}).auth == "http://127.0.0.1:9"
    entry = {"type": "oauth", "access": "a", "refresh": "r", "expires": 1}
    assert kimi_coding.status_rows(kimi_coding.endpoints({}), entry) == []
    assert kimi_coding.status_rows(kimi_coding.endpoints(fake.env()), entry) == [
        ("Auth host", f"{fake.base}/kimi-auth"),
        ("API base", f"{fake.base}/kimi-api"),
    ]


async def test_status_rows_and_no_token_in_status(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    status = service.status(PROVIDER)
    assert status.state is State.LOGGED_IN
    assert ("API base", f"{fake.base}/kimi-api") in status.rows
    shown = json.dumps([str(field) for field in status])
    assert entry["access"] not in shown and entry["refresh"] not in shown


async def test_test_call_lists_models_with_the_authorization_header(
    service: AuthService, fake: FakeProviders
) -> None:
    entry = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    assert await service.test(PROVIDER) == "OK: 1 model available."
    (request,) = fake.requests_for("kimi.models")
    assert request.headers["authorization"] == f"Bearer {entry['access']}"


async def test_pi_auth_signs_and_refreshes_on_401(service: AuthService, fake: FakeProviders) -> None:
    old = seed(fake, service.store, expires=now_ms() + 30 * MINUTE_MS)
    fake.kimi.expire_access_tokens()
    auth = PiAuth(service, PROVIDER)
    assert auth.base_url() == f"{fake.base}/kimi-api"
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.get("/models")
    assert response.status_code == 200
    first, second = fake.requests_for("kimi.models")
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["refresh"] != old["refresh"]
    assert first.headers["authorization"] == f"Bearer {old['access']}"
    assert second.headers["authorization"] == f"Bearer {entry['access']}"


async def test_a_hanging_server_is_bounded_by_the_overall_deadline(
    service: AuthService, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kimi_coding, "RETRY_DELAYS_S", (1.0, 2.0, 4.0))
    monkeypatch.setattr(kimi_coding, "REFRESH_DEADLINE_S", 0.3)
    old = seed(fake, service.store, expires=now_ms() - 1)
    fake.fail("kimi.refresh", kind="hang")
    with pytest.raises(NetworkError, match="Kimi Code did not answer within"):
        await service.get_token(PROVIDER)
    assert fake.count("kimi.refresh") == 1 and service.store.get(PROVIDER) == old
