"""Meta (Muse): device login, the API-key mint, re-mint "refresh", status and PiAuth, over real
HTTP to the loopback fake through AuthService."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import PiAuth
from app.credentials import State
from app.errors import AuthError, DeviceFlowError, RefreshError
from app.flows.device import DeviceLogin, PollEvent
from app.mask import mask
from app.service import AuthService
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import make_store, read_doc
from tests.processes import run_cli
from tests.tui.helpers import flat, screen_text, wait_for_screen, wait_for_text, wait_until

PROVIDER = "meta"
NOW = 1_800_000_000.0  # a fixed clock: expiries are exact
NOW_MS = int(NOW * 1000)
DAY_MS = 24 * 3_600_000
SESSION_EXPIRED = "Meta session expired (status {}). Run `pi-tui login meta` to sign in again."


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    # Polls are 50 ms apart (5 s × 0.01); the fake would call that "too soon" at its 5 s gap.
    fake.meta.min_poll_gap = 0.0
    return AuthService(make_store(tmp_path), env=fake.env(), clock=lambda: NOW, poll_scale=0.01)


async def run_poll(login: DeviceLogin[Any], fake: FakeProviders) -> list[PollEvent[Any]]:
    events = []
    async for event in login.poll():
        events.append(event)
        if event.kind == "waiting":
            fake.meta.approve()
    return events


async def log_in(service: AuthService, fake: FakeProviders) -> DeviceLogin[Any]:
    login = await service.start_login(PROVIDER)
    await run_poll(login, fake)
    return login


def seed(service: AuthService, fake: FakeProviders, *, expires: int) -> dict[str, Any]:
    """A live identity token and a key minted with it, stored as pi stores them."""
    identity = fake.meta.seed_login()["access"]
    with httpx.Client(verify=client_tls(), base_url=fake.base) as http:
        answer = http.post(
            "/meta-api/muse-code/key",
            json={},
            headers={
                "Authorization": f"Bearer {identity}",
                "x-api-version": "1.0.0",
                "Accept": "application/json",
            },
        )
    entry = {"type": "oauth", "refresh": identity, "access": answer.json()["api_key"], "expires": expires}
    service.store.put(PROVIDER, entry)
    return entry


# -- login -----------------------------------------------------------------------------------


async def test_device_login_mints_a_key_and_stores_it_as_pi_does(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await service.start_login(PROVIDER)
    assert login.user_code == fake.meta.latest_user_code
    # verification_uri_complete wins over verification_uri.
    assert login.link == f"https://www.meta.com/device?user_code={login.user_code}"
    assert login.verification_uri == "https://www.meta.com/device"
    assert login.title == "Log in to Meta (Muse subscription)"
    events = await run_poll(login, fake)
    assert events[-1].kind == "done"
    doc = read_doc(service.store)
    entry = doc[PROVIDER]
    assert set(entry) == {"type", "refresh", "access", "expires"}
    assert entry["type"] == "oauth"
    assert entry["access"] == fake.meta.minted[-1] and fake.meta.is_key_valid(entry["access"])
    assert fake.meta.is_access_valid(entry["refresh"])  # the identity token
    assert entry["expires"] == NOW_MS + DAY_MS
    assert login.details == ("Meta issued an API key for 24 hours.",)
    (poll, *_) = fake.requests_for("meta.poll")
    assert poll.data["client_id"] == "1031625952748946"
    assert poll.data["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    (mint,) = fake.requests_for("meta.mint")
    assert mint.headers["authorization"] == f"Bearer {entry['refresh']}"
    assert mint.headers["x-api-version"] == "1.0.0"
    assert mint.headers["content-type"].startswith("application/json")
    assert mint.data == {}


async def test_the_first_poll_waits_one_interval(fake: FakeProviders, tmp_path: Path) -> None:
    # Real one-second interval; a poll sooner than 0.9 s after the code would be "slow_down".
    fake.meta.interval = 1
    fake.meta.min_poll_gap = 0.9
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login(PROVIDER)
    fake.meta.approve()
    events = await run_poll(login, fake)
    assert [e.kind for e in events] == ["done"]


async def test_the_plain_verification_uri_is_shown_without_a_complete_one(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.meta.omit_device_fields = ["verification_uri_complete"]
    login = await service.start_login(PROVIDER)
    assert login.link == login.verification_uri == "https://www.meta.com/device"
    assert login.verification_uri_complete == ""


async def test_without_expires_in_the_code_lives_an_hour_at_most(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.meta.omit_device_fields = ["expires_in"]
    login = await service.start_login(PROVIDER)
    assert login.expires_at_ms == NOW_MS + 3_600_000


async def test_a_positive_expires_in_is_the_deadline(service: AuthService, fake: FakeProviders) -> None:
    fake.meta.device_expires_in = 600
    login = await service.start_login(PROVIDER)
    assert login.expires_at_ms == NOW_MS + 600_000


async def test_denied_is_pis_sentence(service: AuthService, fake: FakeProviders) -> None:
    # An expired code: tests/contract (for every device login).
    login = await service.start_login(PROVIDER)
    fake.meta.deny()
    with pytest.raises(DeviceFlowError, match=r"^The login was denied on Meta\. Start again to retry\.$"):
        await run_poll(login, fake)
    assert service.store.get(PROVIDER) is None


# -- the mint ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "status"), [("expired", 401), ("forbidden", 403)])
async def test_a_mint_refused_at_login_is_one_sentence_and_nothing_is_stored(
    service: AuthService, fake: FakeProviders, mode: str, status: int
) -> None:
    fake.meta.mint_mode = mode
    login = await service.start_login(PROVIDER)
    with pytest.raises(AuthError) as caught:
        await run_poll(login, fake)
    assert str(caught.value) == SESSION_EXPIRED.format(status)
    assert service.store.get(PROVIDER) is None
    assert not service.store.path.exists()


async def test_a_mint_without_a_key_points_to_the_action_url(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.meta.mint_mode = "no_key"
    login = await service.start_login(PROVIDER)
    with pytest.raises(AuthError) as caught:
        await run_poll(login, fake)
    assert str(caught.value) == (
        "Meta signed you in but issued no API key. Finish the step Meta asks for at "
        "https://www.meta.ai/muse/subscribe, then run `pi-tui login meta` again."
    )
    assert service.store.get(PROVIDER) is None


async def test_an_untrusted_action_url_is_not_shown(service: AuthService, fake: FakeProviders) -> None:
    fake.meta.mint_mode = "no_key"
    fake.meta.action_url = "javascript:alert(1)"
    login = await service.start_login(PROVIDER)
    with pytest.raises(AuthError) as caught:
        await run_poll(login, fake)
    assert "javascript" not in str(caught.value)
    assert "Check your Muse subscription" in str(caught.value)
    assert service.store.get(PROVIDER) is None


# -- bad input ---------------------------------------------------------------------------------


async def test_a_token_answer_without_the_identity_token_is_a_sentence(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.meta.omit_token_fields = ["access_token"]
    login = await service.start_login(PROVIDER)
    with pytest.raises(
        DeviceFlowError, match=r"^Meta approved the login but sent no identity token; start again\.$"
    ):
        await run_poll(login, fake)
    assert service.store.get(PROVIDER) is None
    assert fake.count("meta.mint") == 0


@pytest.mark.parametrize("field", ["device_code", "user_code"])
async def test_a_device_answer_without_a_required_field_is_a_sentence(
    service: AuthService, fake: FakeProviders, field: str
) -> None:
    fake.meta.omit_device_fields = [field]
    with pytest.raises(DeviceFlowError, match=r"(?i)start again"):
        await service.start_login(PROVIDER)


@pytest.mark.parametrize(
    "uri", ["javascript:alert(1)", "file:///etc/passwd", "ftp://www.meta.com/device", "www.meta.com/device"]
)
async def test_a_verification_url_that_is_not_http_is_refused(
    service: AuthService, fake: FakeProviders, uri: str
) -> None:
    fake.meta.verification_uri_complete = uri
    with pytest.raises(DeviceFlowError, match="not a web link"):
        await service.start_login(PROVIDER)
    assert fake.count("meta.poll") == 0


async def test_a_plain_verification_url_that_is_not_http_is_refused_when_it_is_shown(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.meta.verification_uri = "javascript:alert(1)"
    fake.meta.verification_uri_complete = "https://www.meta.com/device?user_code=ABCD-1234"
    login = await service.start_login(PROVIDER)  # the complete link is shown, and it is fine
    assert login.link == "https://www.meta.com/device?user_code=ABCD-1234"
    assert "javascript" not in login.verification_uri
    fake.meta.omit_device_fields = ["verification_uri_complete"]
    with pytest.raises(DeviceFlowError, match="not a web link"):
        await service.start_login(PROVIDER)


async def test_an_existing_login_survives_a_failed_new_one(service: AuthService, fake: FakeProviders) -> None:
    before = seed(service, fake, expires=NOW_MS + DAY_MS)
    fake.meta.mint_mode = "no_key"
    login = await service.start_login(PROVIDER)
    with pytest.raises(AuthError):
        await run_poll(login, fake)
    assert service.store.get(PROVIDER) == before


# -- refresh = re-mint -------------------------------------------------------------------------


async def test_refresh_re_mints_and_keeps_the_identity_token(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed(service, fake, expires=NOW_MS - 1)
    token = await service.get_token(PROVIDER)
    entry = service.store.get(PROVIDER)
    assert entry is not None
    assert token == entry["access"] != old["access"]
    assert entry["refresh"] == old["refresh"]
    assert entry["expires"] == NOW_MS + DAY_MS
    assert fake.meta.minted == [old["access"], token]  # the seed's mint, then one re-mint


@pytest.mark.parametrize(("mode", "status"), [("expired", 401), ("forbidden", 403)])
async def test_a_refused_re_mint_keeps_the_login_and_marks_it_failed(
    service: AuthService, fake: FakeProviders, mode: str, status: int
) -> None:
    old = seed(service, fake, expires=NOW_MS + DAY_MS)
    fake.meta.mint_mode = mode
    with pytest.raises(RefreshError) as caught:
        await service.refresh(PROVIDER)
    assert str(caught.value) == SESSION_EXPIRED.format(status)
    assert caught.value.revoked
    assert service.store.get(PROVIDER) == old
    status_row = service.status(PROVIDER)
    assert status_row.state is State.REFRESH_FAILED
    assert status_row.last_error == SESSION_EXPIRED.format(status)


# -- status, masking, test call, PiAuth --------------------------------------------------------


async def test_status_rows_are_masked(
    service: AuthService, fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await log_in(service, fake)
    entry = service.store.get(PROVIDER)
    assert entry is not None
    row = service.status(PROVIDER)
    assert row.state is State.LOGGED_IN
    assert row.expires_ms == NOW_MS + DAY_MS
    assert row.masked_token == mask(entry["access"])
    assert dict(row.rows) == {
        "API base": f"{fake.base}/meta-api/v1",
        "Renews": "re-minted from the Meta sign-in",
    }
    shown = repr(row) + str(row.to_json(now_ms=NOW_MS))
    for secret in (entry["access"], entry["refresh"]):
        assert secret not in shown
        assert secret not in caplog.text


async def test_the_test_call_lists_the_models(service: AuthService, fake: FakeProviders) -> None:
    seed(service, fake, expires=NOW_MS + DAY_MS)
    assert await service.test(PROVIDER) == "OK: 1 model available."
    (sent,) = fake.requests_for("meta.models")
    assert sent.headers["authorization"] == f"Bearer {service.store.get(PROVIDER)['access']}"  # type: ignore[index]


async def test_pi_auth_sends_the_key_as_bearer(service: AuthService, fake: FakeProviders) -> None:
    entry = seed(service, fake, expires=NOW_MS + DAY_MS)
    auth = PiAuth(service, PROVIDER)
    assert auth.base_url() == f"{fake.base}/meta-api/v1"
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.get("/models")
    assert response.status_code == 200
    (sent,) = fake.requests_for("meta.models")
    assert sent.headers["authorization"] == f"Bearer {entry['access']}"


# -- the command line --------------------------------------------------------------------------


def test_status_json_and_token_from_the_command_line(fake: FakeProviders, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    service = AuthService(store, env=fake.env())
    entry = seed(service, fake, expires=int(time.time() * 1000) + DAY_MS)
    out = run_cli("status", "--json", "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 0, out.stderr
    row = next(p for p in json.loads(out.stdout)["providers"] if p["provider"] == PROVIDER)
    assert row["name"] == "Meta (Muse subscription)"
    assert row["state"] == "logged_in"
    assert row["token"] == mask(entry["access"])
    assert row["details"]["API base"] == f"{fake.base}/meta-api/v1"
    assert entry["access"] not in out.stdout and entry["refresh"] not in out.stdout
    # A due key is re-minted by `pi-tui token`, with the identity token kept.
    store.put(PROVIDER, {**entry, "expires": 1})
    out = run_cli("token", PROVIDER, "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 0, out.stderr
    renewed = store.get(PROVIDER)
    assert renewed is not None
    assert out.stdout == renewed["access"] + "\n" and renewed["access"] != entry["access"]
    assert renewed["refresh"] == entry["refresh"]


# -- in the app --------------------------------------------------------------------------------


async def test_the_app_shows_the_code_and_the_link_then_saves_the_key(
    fake: FakeProviders, store: Any, clock: Any, make_app: Any, opener: Any
) -> None:
    fake.meta.min_poll_gap = 0.0
    service = AuthService(store, env=fake.env(), clock=clock, poll_scale=0.01)
    app = make_app(service, start="login", provider=PROVIDER)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "DeviceCodeScreen")
        await wait_until(pilot, lambda: fake.meta.latest_user_code is not None)
        user_code = fake.meta.latest_user_code
        link = f"https://www.meta.com/device?user_code={user_code}"
        await wait_for_text(pilot, "Waiting for you to approve")
        assert "Log in to Meta (Muse subscription)" in screen_text(app)
        assert link in flat(app)
        assert opener.opened == [link]
        fake.meta.approve()
        await wait_for_screen(pilot, "LoginDoneScreen")
        assert f"Logged in to Meta (Muse subscription). Credentials saved to {store.path}" in flat(app)
        assert "Meta issued an API key for 24 hours." in flat(app)
        entry = store.get(PROVIDER)
        assert entry is not None and fake.meta.is_key_valid(entry["access"])
        assert entry["access"] not in screen_text(app) and entry["refresh"] not in screen_text(app)
