"""One contract for every provider and every login method, through AuthService over real HTTP.

Login per method (loopback callback, pasted redirect or code, device code approved in the
fake), refresh, rotation, a revoked refresh, logout, status and masking. Per-provider
differences live in :mod:`tests.contract.cases`; everything else is the same for all.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.credentials import State
from app.errors import AuthError, RefreshError
from app.mask import mask
from app.providers import PROVIDERS
from app.service import AuthService, LoginResult
from app.store import CredentialStore
from app.timefmt import expiry
from tests.contract.cases import (
    CALLBACK,
    CASES,
    DEVICE,
    KEEP,
    NOTHING,
    PASTE_CODE,
    PASTE_URL,
    REMINT,
    RENEW,
    Case,
)
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.processes import run_cli

SCALE = 0.01  # device-flow waits shrink 100×: an advertised 5 s becomes 50 ms
BASE_FIELDS = ("type", "access", "refresh", "expires")
# A shown secret may keep a short prefix and its last four characters, never a longer piece.
LEAK_PIECE = 20


def _case_of(provider_id: str) -> Case:
    """The provider's case; a provider without one fails here (and in the agreement test)."""
    if provider_id not in CASES:
        raise AssertionError(f"{provider_id} has no contract case in tests/contract/cases.py")
    return CASES[provider_id]


def _logins() -> list[Any]:
    params = []
    for provider_id in PROVIDERS:
        case = CASES.get(provider_id)
        logins = case.logins if case else (("?", "?"),)
        methods = [method for method, _ in logins]
        for method, how in logins:
            name = f"{provider_id}-{method}" + (f"-{how}" if methods.count(method) > 1 else "")
            params.append(pytest.param(provider_id, method, how, id=name))
    return params


PROVIDER_IDS = list(PROVIDERS)
REVOCABLE = [p for p in PROVIDER_IDS if p not in CASES or CASES[p].revoke is not None]
RENEWABLE = [p for p in PROVIDER_IDS if p not in CASES or CASES[p].refresh != NOTHING]
NOT_RENEWABLE = [p for p in PROVIDER_IDS if p in CASES and CASES[p].refresh == NOTHING]


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    for provider in fake.providers.values():
        # pi-tui polls every 50 ms here; the fake would call that "too soon" at its own gap.
        provider.min_poll_gap = 0.0
    store = CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=10.0)
    return AuthService(store, env=fake.env(), poll_scale=SCALE)


async def log_in(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str, how: str
) -> LoginResult:
    """Run one login to the end the way a user would with the fake as the provider."""
    case = _case_of(provider_id)
    server = fake.provider(provider_id)
    login: Any = await service.start_login(provider_id, method, case.answers)
    try:
        if how == DEVICE:
            assert login.kind == "device"
            async for event in login.poll():
                if event.kind == "waiting":
                    # Approve the code pi-tui shows, as the user would type it on the page.
                    server.approve(login.user_code)
                if event.kind == "done":
                    return event.result  # type: ignore[no-any-return]
            raise AssertionError("polling ended without a result")
        assert login.kind == "auth_code"
        if how == CALLBACK:
            assert login.listening
            waiter = asyncio.ensure_future(login.wait_for_callback())
            async with httpx.AsyncClient(verify=client_tls()) as browser:
                page = await browser.get(login.url, follow_redirects=True)
            result = await asyncio.wait_for(waiter, 30)  # a failed login raises here
            assert page.status_code == 200, page.text
            return result  # type: ignore[no-any-return]
        if how == PASTE_URL:
            return await login.submit(server.redirect_for(login.url))  # type: ignore[no-any-return]
        if how == PASTE_CODE:
            assert not login.listening
            code, state = server.authorize(login.url)
            return await login.submit(f"{code}#{state}")  # type: ignore[no-any-return]
        raise AssertionError(f"unknown way to complete a login: {how!r}")
    finally:
        await login.aclose()


async def log_in_first(service: AuthService, fake: FakeProviders, provider_id: str) -> dict[str, Any]:
    """Log in with the provider's first method; the stored entry."""
    method, how = _case_of(provider_id).logins[0]
    await log_in(service, fake, provider_id, method, how)
    entry = service.store.get(provider_id)
    assert entry is not None
    return entry


def assert_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert message.rstrip().endswith((".", ")", "!")), message


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets (masked, for the failure message) of which ``text`` shows a long piece."""
    found = []
    for secret in secrets:
        pieces = {secret[i : i + LEAK_PIECE] for i in range(max(1, len(secret) - LEAK_PIECE + 1))}
        if any(piece in text for piece in pieces):
            found.append(mask(secret))
    return found


def secrets_of(case: Case, *entries: dict[str, Any] | None) -> list[str]:
    values = [str(e.get(name) or "") for e in entries if e for name in case.secrets]
    return [value for value in values if len(value) >= LEAK_PIECE]


# ---------------------------------------------------------------- the registry and the fake agree


def test_registry_fake_and_cases_agree(fake: FakeProviders) -> None:
    for provider_id, info in PROVIDERS.items():
        assert fake.provider(provider_id).config.provider_id == provider_id
        case = _case_of(provider_id)
        registered = {method.id for method in info.methods}
        tested = {method for method, _ in case.logins}
        assert registered == tested, f"{provider_id}: methods {registered}, contract covers {tested}"
        if case.refresh_endpoint is not None:
            assert case.refresh_endpoint in fake.endpoints
    assert set(CASES) <= set(PROVIDERS), "a contract case for a provider the registry lacks"
    served = {server.config.provider_id for server in fake.providers.values()} - {""}
    assert served == set(PROVIDERS), "the fake serves a provider the registry lacks, or the reverse"


# ---------------------------------------------------------------- login


@pytest.mark.parametrize(("provider_id", "method", "how"), _logins())
async def test_login(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str, how: str
) -> None:
    case = _case_of(provider_id)
    result = await log_in(service, fake, provider_id, method, how)
    assert result.provider == provider_id and result.path == service.store.path
    assert "\n" not in result.message and str(service.store.path) in result.message
    entry = service.store.get(provider_id)
    assert entry is not None
    assert set(BASE_FIELDS + case.fields) <= set(entry), sorted(entry)
    assert entry["type"] == "oauth" and isinstance(entry["expires"], int)
    assert entry["expires"] > service.now_ms()
    status = service.status(provider_id)
    assert status.state == State.LOGGED_IN and status.source == "oauth.json"
    assert status.account == result.account
    # The stored credential works: one real API call with it.
    assert_sentence(await service.test(provider_id))


OFFERING = [p for p in PROVIDER_IDS if p in CASES and CASES[p].offer is not None]


@pytest.mark.parametrize("provider_id", OFFERING)
async def test_login_by_reusing_a_saved_credential(
    service: AuthService, fake: FakeProviders, provider_id: str, tmp_path: Path
) -> None:
    """Offered, never used silently; used when chosen; the other client's file is only read."""
    case = _case_of(provider_id)
    assert case.offer is not None
    extra = case.offer(fake, tmp_path / "home")
    files = {path: path.read_bytes() for path in (tmp_path / "home").rglob("*") if path.is_file()}
    reuse = AuthService(service.store, env=fake.env() | extra, poll_scale=SCALE)
    (offer,) = reuse.offers(provider_id, case.answers)
    assert service.store.get(provider_id) is None  # offering saves nothing
    result, _details = await reuse.use_offer(provider_id, offer.id)
    assert result.provider == provider_id
    entry = reuse.store.get(provider_id)
    assert entry is not None and set(BASE_FIELDS + case.fields) <= set(entry)
    assert reuse.status(provider_id).state == State.LOGGED_IN
    assert_sentence(await reuse.test(provider_id))
    assert {path: path.read_bytes() for path in files} == files
    assert not leaks(offer.label + repr(offer), secrets_of(case, entry))


@pytest.mark.parametrize("provider_id", OFFERING)
async def test_reusing_a_dead_saved_credential_keeps_the_previous_login(
    service: AuthService, fake: FakeProviders, provider_id: str, tmp_path: Path
) -> None:
    case = _case_of(provider_id)
    assert case.offer is not None
    reuse = AuthService(service.store, env=fake.env() | case.offer(fake, tmp_path / "home"))
    (offer,) = reuse.offers(provider_id, case.answers)
    service.store.put(provider_id, PREVIOUS)
    fake.provider(provider_id).revoke_all()
    with pytest.raises(AuthError) as caught:
        await reuse.use_offer(provider_id, offer.id)
    assert_sentence(str(caught.value))
    assert service.store.get(provider_id) == PREVIOUS


PREVIOUS = {
    "type": "oauth",
    "access": "previous-access-token-0123456789abcdef",
    "refresh": "previous-refresh-token-0123456789abcdef",
    "expires": 4_102_444_800_000,
}


@pytest.mark.parametrize(("provider_id", "method", "how"), _logins())
async def test_refused_login_says_so_and_keeps_the_previous_login(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str, how: str
) -> None:
    """The user says no (on the provider's page, or to the device code): a sentence, nothing lost."""
    service.store.put(provider_id, PREVIOUS)
    server = fake.provider(provider_id)
    if how == DEVICE:
        server.approve = server.deny  # the user denies the code pi-tui shows
    else:
        server.deny_next_authorize()
    with pytest.raises(AuthError) as caught:
        if how == PASTE_CODE:
            login: Any = await service.start_login(provider_id, method, _case_of(provider_id).answers)
            try:
                await login.submit(server.redirect_for(login.url))
            finally:
                await login.aclose()
        else:
            await asyncio.wait_for(log_in(service, fake, provider_id, method, how), 30)
    assert_sentence(str(caught.value))
    assert service.store.get(provider_id) == PREVIOUS


@pytest.mark.parametrize(("provider_id", "method", "how"), _logins())
async def test_token_answer_without_the_token_keeps_the_previous_login(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str, how: str
) -> None:
    service.store.put(provider_id, PREVIOUS)
    fake.provider(provider_id).omit_token_fields = [_case_of(provider_id).token_field]
    with pytest.raises(AuthError) as caught:
        await asyncio.wait_for(log_in(service, fake, provider_id, method, how), 30)
    assert_sentence(str(caught.value))
    assert service.store.get(provider_id) == PREVIOUS


DEVICE_RFC = [
    pytest.param(p, m, id=f"{p}-{m}")
    for p, case in CASES.items()
    if p in PROVIDERS
    for m, how in case.logins
    if how == DEVICE
]


@pytest.mark.parametrize(("provider_id", "method"), DEVICE_RFC)
async def test_verification_address_that_is_not_a_web_link_is_refused(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str
) -> None:
    server = fake.provider(provider_id)
    if server.config.device is None:
        # Its device API sends no address (pi-tui builds it): nothing to refuse.
        assert server.config.routes, "a device method without a device API in the fake"
        return
    server.verification_uri = "javascript:alert(1)"
    server.verification_uri_complete = "file:///etc/passwd"
    with pytest.raises(AuthError) as caught:
        await service.start_login(provider_id, method, _case_of(provider_id).answers)
    assert_sentence(str(caught.value))
    assert fake.count(f"{server.config.name}.poll") == 0  # no login goes on from there
    assert service.store.get(provider_id) is None


# ---------------------------------------------------------------- the device flow's timing


def poll_times(fake: FakeProviders, server: Any) -> list[float]:
    return [request.time for request in fake.requests_for(f"{server.config.name}.poll")]


async def poll_approving_at_once(login: Any, server: Any) -> list[tuple[str, float]]:
    """Poll to the end, approving the code at the first answer; each event's (kind, interval)."""
    events: list[tuple[str, float]] = []
    async for event in login.poll():
        events.append((event.kind, event.interval))
        if len(events) == 1:
            server.approve(login.user_code)
    return events


@pytest.mark.parametrize(("provider_id", "method"), DEVICE_RFC)
async def test_slow_down_adds_five_seconds_to_every_later_poll(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str
) -> None:
    """RFC 8628 §3.5. The fake enforces the gaps (scaled like pi-tui's waits): a poll that came
    too soon would be answered with another slow_down and show up in the events."""
    server = fake.provider(provider_id)
    advertised = float(server.interval)
    server.min_poll_gap = 0.9 * advertised * SCALE
    server.slow_down_gap_scale = 0.9 * SCALE
    server.force_slow_down(1)
    login: Any = await service.start_login(provider_id, method, _case_of(provider_id).answers)
    try:
        assert login.interval == advertised
        events = await poll_approving_at_once(login, server)
    finally:
        await login.aclose()
    assert events == [("slow_down", advertised + 5), ("done", advertised + 5)]
    first, second = poll_times(fake, server)
    assert second - first >= (advertised + 5) * SCALE
    assert service.store.get(provider_id) is not None


SLOW_DOWN_ANSWERS = [
    pytest.param(p, m, id=f"{p}-{m}")
    for p, m in (param.values for param in DEVICE_RFC)
    if CASES[str(p)].device_errors is not None
]


@pytest.mark.parametrize(("provider_id", "method"), SLOW_DOWN_ANSWERS)
@pytest.mark.parametrize(
    ("named", "expected"),
    [(30, 30.0), (9, 10.0), (1000, 10.0), ("soon", 10.0)],
    ids=["larger-wins", "smaller-is-5s-more", "absurd-is-5s-more", "not-a-number-is-5s-more"],
)
async def test_slow_down_takes_the_servers_larger_interval(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str, named: object, expected: float
) -> None:
    server = fake.provider(provider_id)
    server.interval = 5
    status = _case_of(provider_id).device_errors
    assert status is not None
    fake.fail(f"{server.config.name}.poll", status=status, body={"error": "slow_down", "interval": named})
    login: Any = await service.start_login(provider_id, method, _case_of(provider_id).answers)
    try:
        events = await poll_approving_at_once(login, server)
    finally:
        await login.aclose()
    assert events == [("slow_down", expected), ("done", expected)]


CLAMPING = [param for param in DEVICE_RFC if CASES[str(param.values[0])].clamps_interval]


@pytest.mark.parametrize(("provider_id", "method"), CLAMPING)
@pytest.mark.parametrize(
    ("advertised", "expected"),
    [("soon", 5.0), (None, 5.0), (0, 5.0), (-3, 5.0), (2, 2.0), (1000, 60.0)],
)
async def test_an_unusable_advertised_interval_means_five_seconds(
    service: AuthService,
    fake: FakeProviders,
    provider_id: str,
    method: str,
    advertised: object,
    expected: float,
) -> None:
    server = fake.provider(provider_id)
    server.interval = advertised
    login: Any = await service.start_login(provider_id, method, _case_of(provider_id).answers)
    try:
        assert login.interval == expected
        assert await poll_approving_at_once(login, server) == [("waiting", expected), ("done", expected)]
    finally:
        await login.aclose()


@pytest.mark.parametrize(("provider_id", "method"), DEVICE_RFC)
async def test_an_expired_code_ends_the_login_with_a_sentence_and_no_more_polls(
    service: AuthService, fake: FakeProviders, provider_id: str, method: str
) -> None:
    service.store.put(provider_id, PREVIOUS)
    server = fake.provider(provider_id)
    login: Any = await service.start_login(provider_id, method, _case_of(provider_id).answers)
    server.expire_device_codes()
    try:
        with pytest.raises(AuthError) as caught:
            async for _event in login.poll():
                pass
    finally:
        await login.aclose()
    assert_sentence(str(caught.value))
    assert "expired" in str(caught.value).lower()
    polls = len(poll_times(fake, server))
    await asyncio.sleep(20 * SCALE)  # four intervals: a poll still going would have come
    assert len(poll_times(fake, server)) == polls
    assert service.store.get(provider_id) == PREVIOUS


# ---------------------------------------------------------------- refresh and rotation


@pytest.mark.parametrize("provider_id", RENEWABLE)
async def test_refresh(service: AuthService, fake: FakeProviders, provider_id: str) -> None:
    case = _case_of(provider_id)
    before = await log_in_first(service, fake, provider_id)
    assert case.refresh_endpoint is not None
    calls = fake.count(case.refresh_endpoint)
    status = await service.refresh(provider_id)
    after = service.store.get(provider_id)
    assert after is not None
    assert fake.count(case.refresh_endpoint) == calls + 1
    assert after["access"] != before["access"] and after["expires"] > service.now_ms()
    assert status.state == State.LOGGED_IN and status.masked_token == mask(after["access"])
    if case.refresh == REMINT or not case.rotates:
        assert after["refresh"] == before["refresh"]
    else:
        assert case.refresh == RENEW and after["refresh"] != before["refresh"]
    assert_sentence(await service.test(provider_id))


@pytest.mark.parametrize("provider_id", RENEWABLE)
async def test_rotation(service: AuthService, fake: FakeProviders, provider_id: str) -> None:
    """After a refresh, a stale copy of the login renews only where the provider does not rotate."""
    case = _case_of(provider_id)
    before = await log_in_first(service, fake, provider_id)
    await service.refresh(provider_id)
    current = service.store.get(provider_id)
    service.store.put(provider_id, before)  # e.g. a backup restored over the refreshed login
    if case.rotates and case.refresh == RENEW:
        with pytest.raises(RefreshError) as caught:
            await service.refresh(provider_id)
        assert caught.value.revoked
        assert_sentence(str(caught.value))
        assert service.store.get(provider_id) == before  # kept: the user decides what to do
        service.store.put(provider_id, current)
        await service.refresh(provider_id)  # the rotated token is the live one
    else:
        await service.refresh(provider_id)
        after = service.store.get(provider_id)
        assert after is not None and after["refresh"] == before["refresh"]


ROTATING = [p for p in PROVIDER_IDS if p not in CASES or (CASES[p].refresh == RENEW and CASES[p].rotates)]


@pytest.mark.parametrize("provider_id", ROTATING)
async def test_refresh_answer_without_a_refresh_token(
    service: AuthService, fake: FakeProviders, provider_id: str
) -> None:
    """Kept where the provider allows it (the old one still works); else a sentence, login untouched."""
    case = _case_of(provider_id)
    before = await log_in_first(service, fake, provider_id)
    fake.provider(provider_id).omit_refresh_token = True
    if case.missing_refresh == KEEP:
        await service.refresh(provider_id)
        after = service.store.get(provider_id)
        assert after is not None and after["refresh"] == before["refresh"]
        assert after["access"] != before["access"]
        fake.provider(provider_id).omit_refresh_token = False
        await service.refresh(provider_id)  # the kept refresh token still renews
    else:
        with pytest.raises(AuthError) as caught:
            await service.refresh(provider_id)
        assert_sentence(str(caught.value))
        assert service.store.get(provider_id) == before


@pytest.mark.parametrize("provider_id", NOT_RENEWABLE)
async def test_nothing_to_refresh_makes_no_request(
    service: AuthService, fake: FakeProviders, provider_id: str
) -> None:
    """A credential that never expires: refresh says there is nothing to do and sends nothing."""
    before = await log_in_first(service, fake, provider_id)
    fake.clear_requests()
    with pytest.raises(AuthError, match=r"[Nn]othing to refresh") as caught:
        await service.refresh(provider_id)
    assert_sentence(str(caught.value))
    assert fake.requests == []
    assert service.store.get(provider_id) == before
    assert service.status(provider_id).state == State.LOGGED_IN
    assert await service.get_token(provider_id) == before["access"]


# ---------------------------------------------------------------- revoked refresh


@pytest.mark.parametrize("provider_id", REVOCABLE)
async def test_revoked_refresh_says_so_and_keeps_the_login(
    service: AuthService, fake: FakeProviders, provider_id: str
) -> None:
    case = _case_of(provider_id)
    entry = await log_in_first(service, fake, provider_id)
    assert case.revoke is not None
    case.revoke(fake, entry)
    with pytest.raises(RefreshError) as caught:
        await service.refresh(provider_id)
    message = str(caught.value)
    assert caught.value.revoked
    assert_sentence(message)
    assert "log in again" in message.lower() or f"pi-tui login {provider_id}" in message
    assert not leaks(message, secrets_of(case, entry))
    assert service.store.get(provider_id) == entry
    status = service.status(provider_id)
    assert status.state == State.REFRESH_FAILED and status.last_error == message


# ---------------------------------------------------------------- logout


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
async def test_logout(service: AuthService, fake: FakeProviders, provider_id: str) -> None:
    other = {"type": "oauth", "access": "other-access", "refresh": "other-refresh", "expires": 1}
    service.store.put("someone-else", other)
    await log_in_first(service, fake, provider_id)
    assert service.logout(provider_id) is True
    assert service.store.get(provider_id) is None
    assert service.store.get("someone-else") == other  # only this login goes
    status = service.status(provider_id)
    assert status.state == State.NOT_LOGGED_IN and status.masked_token is None and status.rows == ()
    assert service.logout(provider_id) is False


# ---------------------------------------------------------------- status


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
async def test_status(service: AuthService, fake: FakeProviders, provider_id: str) -> None:
    assert service.status(provider_id).state == State.NOT_LOGGED_IN
    entry = await log_in_first(service, fake, provider_id)
    status = service.status(provider_id)
    assert status.provider == provider_id and status.name == PROVIDERS[provider_id].name
    assert status.state == State.LOGGED_IN
    assert status.masked_token == mask(entry["access"]) and status.expires_ms == entry["expires"]
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in status.rows)
    doc = status.to_json(now_ms=service.now_ms())
    assert doc["state"] == "logged_in" and doc["details"] == dict(status.rows)
    assert doc["token"] == mask(entry["access"])
    if _case_of(provider_id).refresh == NOTHING:
        assert expiry(status.expires_ms, service.now_ms()) == "does not expire"
        return
    assert expiry(status.expires_ms, service.now_ms()).startswith("expires in ")
    # Due: the panel says it will refresh, and the next token request does.
    service.store.put(provider_id, entry | {"expires": service.now_ms() - 1})
    due = service.status(provider_id)
    assert due.state == State.DUE
    token = await service.get_token(provider_id)
    assert token != entry["access"] and service.status(provider_id).state == State.LOGGED_IN


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
async def test_no_raw_token_in_status_errors_or_log(
    service: AuthService, fake: FakeProviders, provider_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    case = _case_of(provider_id)
    caplog.set_level(logging.DEBUG)
    entries: list[dict[str, Any] | None] = [await log_in_first(service, fake, provider_id)]
    shown: list[str] = []
    if case.refresh != NOTHING:
        await service.refresh(provider_id)
        entries.append(service.store.get(provider_id))
    shown.append(await service.test(provider_id))
    shown.append(repr(service.status(provider_id)))
    shown.append(json.dumps(service.status(provider_id).to_json(now_ms=service.now_ms())))
    env = fake.env()
    masked = mask(service.store.get(provider_id)["access"])  # type: ignore[index]
    agent_dir = str(service.store.path.parent)
    text = run_cli("status", "--agent-dir", agent_dir, env=env)
    assert text.returncode == 0 and masked in text.stdout, text.stderr
    as_json = run_cli("status", "--json", "--agent-dir", agent_dir, env=env)
    assert as_json.returncode == 0, as_json.stderr
    rows = {row["provider"]: row for row in json.loads(as_json.stdout)["providers"]}
    assert rows[provider_id]["token"] == masked
    shown += [text.stdout, text.stderr, as_json.stdout, as_json.stderr]
    if case.revoke is not None:
        case.revoke(fake, service.store.get(provider_id))  # type: ignore[arg-type]
        with pytest.raises(AuthError) as caught:
            await service.refresh(provider_id)
        shown += [str(caught.value), repr(caught.value)]
        shown.append(repr(service.status(provider_id)))
    shown += [record.getMessage() for record in caplog.records]
    shown += [str(record.args) for record in caplog.records]
    secrets = secrets_of(case, *entries)
    assert secrets, "the entry holds no secret to look for"
    for text in shown:
        assert not leaks(text, secrets), text


# ---------------------------------------------------------------- subscription usage

WITH_USAGE = [p for p in PROVIDER_IDS if p in CASES and CASES[p].usage_windows is not None]


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
async def test_usage(service: AuthService, fake: FakeProviders, provider_id: str) -> None:
    """Each provider's windows from its fake's realistic answer, or "usage not available"; then cached."""
    case = _case_of(provider_id)
    entry = await log_in_first(service, fake, provider_id)
    report = await service.usage(provider_id)
    doc = report.to_json(now_ms=service.now_ms())
    assert not leaks(json.dumps(doc) + repr(report), secrets_of(case, entry))
    if case.usage_windows is None:
        assert not report.available and report.error is None and report.reason
        assert doc["available"] is False and doc["windows"] == []
        return
    assert report.available and report.error is None, report
    assert report.usage is not None
    assert tuple(w.name for w in report.usage.windows) == case.usage_windows
    for window in report.usage.windows:
        assert window.used_percent is not None and 0 <= window.used_percent <= 100
        assert window.resets_at is None or window.resets_at > service.now_ms()
    assert report.fetched_at is not None and not report.cached
    assert case.usage_endpoint is not None
    asked = fake.count(case.usage_endpoint)
    assert asked == 1
    again = await service.usage(provider_id)
    assert again.cached and again.usage == report.usage and fake.count(case.usage_endpoint) == asked
    await service.usage(provider_id, refresh=True)
    assert fake.count(case.usage_endpoint) == asked + 1
    assert service.store.get(provider_id) == entry


ODD_SHAPES: list[Any] = [[], "text", {"unexpected": True}, {"five_hour": "61%", "rate_limit": []}, 42]


@pytest.mark.parametrize("provider_id", WITH_USAGE)
@pytest.mark.parametrize("body", ODD_SHAPES, ids=["list", "string", "other-keys", "wrong-types", "number"])
async def test_usage_answer_of_another_shape_is_not_available(
    service: AuthService, fake: FakeProviders, provider_id: str, body: Any
) -> None:
    entry = await log_in_first(service, fake, provider_id)
    case = _case_of(provider_id)
    assert case.usage_endpoint is not None
    fake.fail(case.usage_endpoint, status=200, body=body, content_type="application/json")
    if provider_id == "openrouter":
        fake.fail("openrouter.key", status=200, body=body, content_type="application/json")
    report = await service.usage(provider_id)
    assert not report.available, report
    assert report.error is None or "Traceback" not in report.error
    assert service.store.get(provider_id) == entry
    assert service.status(provider_id).state == State.LOGGED_IN


@pytest.mark.parametrize("provider_id", WITH_USAGE)
@pytest.mark.parametrize("status", [401, 403, 429, 500])
async def test_usage_refused_is_one_sentence_and_keeps_the_login(
    service: AuthService, fake: FakeProviders, provider_id: str, status: int
) -> None:
    """A refused or failed usage request: a sentence, the last good answer kept, the login untouched."""
    case = _case_of(provider_id)
    entry = await log_in_first(service, fake, provider_id)
    good = await service.usage(provider_id)
    assert good.available
    assert case.usage_endpoint is not None
    body = {"error": {"message": "nope", "type": "error"}}
    fake.fail(case.usage_endpoint, status=status, body=body, headers={"retry-after": "30"})
    if provider_id == "openrouter":
        fake.fail("openrouter.key", status=status, body=body)
    report = await service.usage(provider_id, refresh=True)
    if provider_id == "openrouter" and status == 403:
        # Either endpoint may be forbidden for a key type: that part is left out, not an error.
        assert report.error is None and not report.available
    else:
        assert report.error is not None, report
        assert_sentence(report.error)
        assert report.usage == good.usage and report.fetched_at == good.fetched_at  # the last good answer
    assert service.store.get(provider_id) == entry
    assert service.status(provider_id).state == State.LOGGED_IN
    assert service.status(provider_id).last_error is None
