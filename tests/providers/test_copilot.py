"""GitHub Copilot: device login, Copilot token refresh, model policies and PiAuth,
over real HTTP to the loopback fake (no patched HTTP)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import PiAuth
from app.credentials import State
from app.errors import (
    ConfigError,
    DeviceFlowError,
    LoginCancelled,
    LoginInputError,
    NetworkError,
    RefreshError,
)
from app.flows.device import DeviceLogin, PollEvent, clamp_expires_in, clamp_interval, next_interval
from app.providers.github_copilot import (
    api_base_url,
    copilot_expires_ms,
    endpoints,
    normalize_domain,
    proxy_api_base,
)
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls, fake
from tests.fakes.server import FakeProviders
from tests.integration.helpers import DEVICE_SCALE, device_service, now_ms
from tests.processes import start_together

__all__ = ["fake"]

PROVIDER = "github-copilot"
SCALE = DEVICE_SCALE
MINUTE_MS = 60_000
MODEL_IDS = ["gpt-4.1", "claude-sonnet-4.5", "gpt-5-mini", "gemini-2.5-pro"]


def make_service(fake: FakeProviders, tmp_path: Path, **env: str) -> AuthService:
    return device_service(fake, tmp_path, store_name="oauth.json", **env)


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    # Polls are 50 ms apart; the fake would call that "too soon" at its default 5 s gap.
    fake.github.min_poll_gap = 0.0
    return make_service(fake, tmp_path)


def seed_copilot(
    fake: FakeProviders, store: CredentialStore, *, expires: int, **extra: Any
) -> dict[str, Any]:
    """A live GitHub token and Copilot token from the fake, stored as pi would."""
    entry = {
        "type": "oauth",
        "refresh": fake.github.seed_login(),
        "access": fake.copilot.seed_token(),
        "expires": expires,
        **extra,
    }
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


def approve_when_waiting(fake: FakeProviders, **kwargs: Any) -> Callable[[PollEvent], None]:
    def on_event(event: PollEvent) -> None:
        if event.kind == "waiting":
            fake.github.approve(**kwargs)

    return on_event


async def login_fully(
    service: AuthService, fake: FakeProviders, domain: str | None = None
) -> DeviceLogin[Any]:
    login = await service.start_login("github-copilot", answers={"host": domain or ""})
    await run_poll(login, approve_when_waiting(fake))
    return login


def poll_times(fake: FakeProviders) -> list[float]:
    return [r.time for r in fake.requests_for("github.poll")]


# -- the Enterprise host the user types ------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("", None),
        ("   ", None),
        ("github.com", None),
        ("https://GitHub.com/", None),
        ("ghe.example.com", "ghe.example.com"),
        ("  GHE.Example.COM  ", "ghe.example.com"),
        ("https://ghe.example.com/", "ghe.example.com"),
        ("http://ghe.example.com/login/device?x=1", "ghe.example.com"),
        ("ghe.example.com:8443", "ghe.example.com:8443"),
        ("localhost:8443", "localhost:8443"),
        ("https://ghe.example.com:8443", "ghe.example.com:8443"),
        ("ghe.example.com.", "ghe.example.com"),
        ("octo.ghe.com", "octo.ghe.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("10.0.0.5", "10.0.0.5"),
    ],
)
def test_normalize_domain_keeps_the_hostname(typed: str, host: str | None) -> None:
    assert normalize_domain(typed) == host


@pytest.mark.parametrize(
    "typed",
    [
        "ghe example.com",
        "/login/device",
        "ftp://ghe.example.com",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "user@ghe.example.com",
        "https://user:pw@ghe.example.com",
        "ghe.example.com:port",
        "-bad-.example.com",
        "ghe_example.com",
        "\x1b[31mghe.example.com",
        "[::1]",
    ],
)
def test_normalize_domain_rejects_what_is_not_a_host(typed: str) -> None:
    with pytest.raises(LoginInputError) as caught:
        normalize_domain(typed)
    message = str(caught.value)
    assert message.endswith(".") and "\x1b" not in message


# -- device flow: the happy path -------------------------------------------------------


async def test_pending_then_approved_stores_pi_entry(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("github-copilot")
    assert login.title == "Log in to GitHub Copilot (github.com)"
    assert re.fullmatch(r"[A-Z]{4}-\d{4}", login.user_code)
    assert login.verification_uri == "https://github.com/login/device"
    assert login.interval == 5.0
    assert abs(login.expires_at_ms - (now_ms() + 900_000)) < 5_000
    assert "device_code" not in repr(login)

    events = await run_poll(login, approve_when_waiting(fake))

    assert [e.kind for e in events] == ["waiting", "done"]
    assert [e.polls for e in events] == [1, 2]
    result = events[-1].result
    assert result is not None and result is login.result
    assert result.provider == PROVIDER and result.account == "@octocat"
    saved = f"Credentials saved to {service.store.path}"
    assert result.message == f"Logged in to GitHub Copilot as @octocat. {saved}"
    entry = service.store.get(PROVIDER)
    assert entry is not None
    assert set(entry) == {"type", "refresh", "access", "expires"}  # exactly as pi writes it
    assert entry["type"] == "oauth" and service.status(PROVIDER).account == "@octocat"
    assert fake.github.login_for(entry["refresh"]) == "octocat"
    assert fake.copilot.is_token_valid(entry["access"])
    expires_at = int(re.search(r"exp=(\d+)", entry["access"]).group(1))  # type: ignore[union-attr]
    assert abs(entry["expires"] - (expires_at * 1000 - 5 * MINUTE_MS)) <= 1_000
    assert service.status(PROVIDER).account == "@octocat"


async def test_device_code_and_poll_requests_are_rfc_8628(service: AuthService, fake: FakeProviders) -> None:
    await login_fully(service, fake)
    (device,) = fake.requests_for("github.device_code")
    assert device.headers["accept"] == "application/json"
    assert device.data == {"client_id": "Iv1.b507a08c87ecfe98", "scope": "read:user"}
    polls = fake.requests_for("github.poll")
    assert len(polls) == 2
    for poll in polls:
        assert poll.headers["accept"] == "application/json"
        assert poll.data["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
        assert poll.data["client_id"] == "Iv1.b507a08c87ecfe98"
    # The interval is waited before every poll, the first one included.
    times = [device.time, *poll_times(fake)]
    assert all(later - earlier >= 5 * SCALE for earlier, later in itertools.pairwise(times))


async def test_login_enables_every_model_policy(service: AuthService, fake: FakeProviders) -> None:
    login = await login_fully(service, fake)
    assert sorted(fake.copilot.enabled_policies) == sorted(MODEL_IDS)
    assert login.details == ("Copilot models enabled: 4 of 4.",)
    (listing,) = fake.requests_for("copilot.models")
    assert listing.headers["x-github-api-version"] == "2026-06-01"
    for request in fake.requests_for("copilot.policy"):
        assert request.data == {"state": "enabled"}
        assert request.headers["copilot-integration-id"] == "vscode-chat"


async def test_failing_policy_call_does_not_fail_the_login(service: AuthService, fake: FakeProviders) -> None:
    fake.fail("copilot.policy", status=500)
    login = await login_fully(service, fake)
    assert login.result is not None and service.store.get(PROVIDER) is not None
    assert len(fake.copilot.enabled_policies) == 3
    assert login.details == ("Copilot models enabled: 3 of 4.",)


async def test_failing_model_list_and_user_lookup_do_not_fail_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("copilot.models", status=503)
    fake.fail("github.user", status=500)
    login = await login_fully(service, fake)
    assert login.result is not None and login.result.account is None
    entry = service.store.get(PROVIDER)
    assert entry is not None and "login" not in entry
    assert fake.count("copilot.policy") == 0 and login.details == ()


async def test_already_enabled_models_are_not_enabled_again(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.copilot.enabled_policies.extend(["gpt-4.1", "gpt-5-mini"])
    login = await login_fully(service, fake)
    assert sorted(fake.copilot.enabled_policies[2:]) == ["claude-sonnet-4.5", "gemini-2.5-pro"]
    assert login.details == ("Copilot models enabled: 4 of 4.",)


# -- device flow: slowing down, errors, expiry, cancel ----------------------------------


def test_interval_arithmetic_clamps_absurd_values() -> None:
    assert [clamp_interval(v) for v in (5, "7", 0, -3, "abc", None, True, float("nan"), 1000)] == [
        5,
        7,
        5,
        5,
        5,
        5,
        5,
        5,
        60,
    ]
    assert [clamp_expires_in(v) for v in (600, 0, -1, "x", None, 10**9)] == [600, 900, 900, 900, 900, 3600]
    assert [next_interval(5, v) for v in (None, "abc", 7, 30, 10**6)] == [10, 10, 10, 30, 10]


@pytest.mark.parametrize(("advertised", "seconds"), [(-5, 900), (0, 900), (10**7, 3600), (120, 120)])
async def test_absurd_expires_in_is_clamped(
    service: AuthService, fake: FakeProviders, advertised: float, seconds: int
) -> None:
    fake.github.expires_in = advertised
    login = await service.start_login("github-copilot")
    assert abs(login.expires_at_ms - (now_ms() + seconds * 1000)) < 5_000


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        ("expired_token", "The code expired before it was approved; start again."),
        ("access_denied", "The login was denied on GitHub"),
        ("device_flow_disabled", "GitHub has device login turned off"),
        ("incorrect_device_code", "GitHub no longer recognises this login's code"),
        ("unsupported_grant_type", "GitHub does not support the device login"),
        ("something_new", "GitHub stopped the login (Unexpected thing)"),
    ],
)
async def test_poll_errors_stop_with_a_sentence(
    service: AuthService, fake: FakeProviders, status: int, error: str, sentence: str
) -> None:
    fake.fail("github.poll", status=status, body={"error": error, "error_description": "Unexpected thing"})
    login = await service.start_login("github-copilot")
    with pytest.raises(DeviceFlowError) as caught:
        await run_poll(login)
    assert sentence in str(caught.value)
    assert fake.count("github.poll") == 1 and service.store.get(PROVIDER) is None


async def test_a_poll_refused_without_an_error_code_names_its_status(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("github.poll", status=404, body={"message": "Not Found"})
    login = await service.start_login("github-copilot")
    with pytest.raises(DeviceFlowError) as caught:
        await run_poll(login)
    assert str(caught.value) == "GitHub stopped the login (HTTP 404). Start again."
    assert fake.count("github.poll") == 1 and service.store.get(PROVIDER) is None


async def test_device_flow_disabled_refuses_to_start(service: AuthService, fake: FakeProviders) -> None:
    fake.github.disable_device_flow = True
    with pytest.raises(DeviceFlowError, match="GitHub has device login turned off"):
        await service.start_login("github-copilot")
    assert fake.count("github.poll") == 0


async def test_cancel_while_waiting_sends_no_further_request(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.github.interval = 20  # 200 ms between polls
    login = await service.start_login("github-copilot")
    first_event = asyncio.Event()
    task = asyncio.create_task(run_poll(login, lambda event: first_event.set()))
    await asyncio.wait_for(first_event.wait(), 5)
    await login.aclose()
    with pytest.raises(LoginCancelled):
        await asyncio.wait_for(task, 1)
    before = fake.counts()
    await asyncio.sleep(0.5)
    assert fake.counts() == before and before["github.poll"] == 1
    assert login.cancelled and service.store.get(PROVIDER) is None


async def test_cancel_before_the_first_poll_sends_nothing(service: AuthService, fake: FakeProviders) -> None:
    login = await service.start_login("github-copilot")
    task = asyncio.create_task(run_poll(login))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await login.aclose()
    with pytest.raises(LoginCancelled):
        await asyncio.wait_for(task, 1)
    assert time.monotonic() - started < 0.5
    await asyncio.sleep(0.2)
    assert fake.count("github.poll") == 0


async def test_cancel_abandons_a_poll_in_flight(service: AuthService, fake: FakeProviders) -> None:
    fake.set_latency("github.poll", 5.0)
    login = await service.start_login("github-copilot")
    task = asyncio.create_task(run_poll(login))
    while fake.count("github.poll") == 0:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await login.aclose()
    assert time.monotonic() - started < 1.0
    with pytest.raises(LoginCancelled):
        await asyncio.wait_for(task, 1)
    await asyncio.sleep(0.2)
    assert fake.count("github.poll") == 1


# -- what the server sends that reaches the screen --------------------------------------


async def test_escapes_in_user_code_and_verification_uri_are_stripped(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.github.next_user_code = "\x1b[31mABCD-1234\x1b[0m\x07"
    fake.github.verification_uri = "https://github.com/login/device\x1b]0;pwned\x07"
    login = await service.start_login("github-copilot")
    assert login.user_code == "ABCD-1234"
    assert login.verification_uri == "https://github.com/login/device"


async def test_escapes_in_error_description_are_stripped(service: AuthService, fake: FakeProviders) -> None:
    body = {"error": "odd_error", "error_description": "\x1b]0;title\x07Bad \x1b[2Jthing\x9b1m"}
    fake.fail("github.poll", status=200, body=body)
    login = await service.start_login("github-copilot")
    with pytest.raises(DeviceFlowError) as caught:
        await run_poll(login)
    assert str(caught.value) == "GitHub stopped the login (Bad thing). Start again."


@pytest.mark.parametrize(
    "uri", ["javascript:alert(1)", "file:///etc/passwd", "ftp://github.com/device", "github.com/login", ""]
)
async def test_verification_uri_that_is_not_http_is_refused(
    service: AuthService, fake: FakeProviders, uri: str
) -> None:
    fake.github.verification_uri = uri
    with pytest.raises(DeviceFlowError, match="not a web link"):
        await service.start_login("github-copilot")


@pytest.mark.parametrize("code", ["A" * 33, "\x1b[0m", "   "])
async def test_unusable_user_code_is_refused(service: AuthService, fake: FakeProviders, code: str) -> None:
    fake.github.next_user_code = code
    with pytest.raises(DeviceFlowError, match="login code that cannot be shown"):
        await service.start_login("github-copilot")


# -- Enterprise ------------------------------------------------------------------------


async def test_enterprise_login_stores_and_uses_enterprise_url(
    service: AuthService, fake: FakeProviders
) -> None:
    login = await login_fully(service, fake, "https://GHE.Example.com/")
    assert login.title == "Log in to GitHub Copilot (ghe.example.com)"
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["enterpriseUrl"] == "ghe.example.com"
    assert ("Enterprise", "ghe.example.com") in service.status(PROVIDER).rows

    # A refresh of that login keeps it an Enterprise login.
    await service.refresh(PROVIDER)
    refreshed = service.store.get(PROVIDER)
    assert refreshed is not None and refreshed["enterpriseUrl"] == "ghe.example.com"
    assert refreshed["access"] != entry["access"] and service.status(PROVIDER).account == "@octocat"

    # Without overrides every URL derives from the host.
    plain = endpoints({})
    assert plain.github_base("ghe.example.com") == "https://ghe.example.com"
    assert plain.github_api_base("ghe.example.com") == "https://api.ghe.example.com"
    assert (
        api_base_url("tid=1;exp=2", "ghe.example.com", endpoints=plain)
        == "https://copilot-api.ghe.example.com"
    )


async def test_enterprise_host_is_named_in_messages(service: AuthService, fake: FakeProviders) -> None:
    fake.github.disable_device_flow = True
    with pytest.raises(DeviceFlowError, match=r"GitHub Enterprise \(ghe\.example\.com\) has device login"):
        await service.start_login("github-copilot", answers={"host": "ghe.example.com"})


async def test_bad_enterprise_host_is_refused_before_any_request(
    service: AuthService, fake: FakeProviders
) -> None:
    with pytest.raises(LoginInputError):
        await service.start_login("github-copilot", answers={"host": "not a host"})
    assert fake.requests == []


# -- Copilot token exchange and refresh -----------------------------------------------


async def test_login_without_copilot_access_says_so_and_saves_nothing(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.copilot.mode = "no_access"
    login = await service.start_login("github-copilot")
    with pytest.raises(RefreshError) as caught:
        await run_poll(login, approve_when_waiting(fake))
    assert service.store.get(PROVIDER) is None
    # Issue 11: the account is named, and GitHub's own sentence is not wrapped as "(….)."
    assert str(caught.value).startswith(
        "The GitHub account @octocat has no Copilot access "
        "(GitHub says: You do not have access to GitHub Copilot). Check the subscription"
    )
    assert ".)." not in str(caught.value)


async def test_refresh_when_due_makes_one_exchange_and_keeps_other_keys(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed_copilot(fake, service.store, expires=now_ms() - 1, login="octocat", piKnows={"x": 1})
    token = await service.get_token(PROVIDER)
    assert token != old["access"] and fake.copilot.is_token_valid(token)
    assert fake.count("github.copilot_token") == 1
    (exchange,) = fake.requests_for("github.copilot_token")
    assert exchange.headers["authorization"] == f"Bearer {old['refresh']}"
    assert exchange.headers["user-agent"] == "GitHubCopilotChat/0.35.0"
    entry = service.store.get(PROVIDER)
    assert entry is not None
    assert entry["refresh"] == old["refresh"] and entry["access"] == token
    assert "login" not in entry and entry["piKnows"] == {"x": 1}
    assert service.status(PROVIDER).account == "@octocat"  # moved to pi-tui's state file
    assert entry["expires"] > now_ms() + 20 * MINUTE_MS
    # Now fresh: no further exchange.
    assert await service.get_token(PROVIDER) == token
    assert fake.count("github.copilot_token") == 1


async def test_token_not_due_makes_no_request(service: AuthService, fake: FakeProviders) -> None:
    entry = seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    assert await service.get_token(PROVIDER) == entry["access"]
    assert fake.requests == []


async def test_revoked_github_token_keeps_the_login(service: AuthService, fake: FakeProviders) -> None:
    seed_copilot(fake, service.store, expires=now_ms() - 1)
    fake.github.revoke_all()
    with pytest.raises(RefreshError) as caught:
        await service.get_token(PROVIDER)
    assert str(caught.value) == "GitHub login revoked or expired: log in again."
    assert caught.value.revoked is True
    assert service.store.get(PROVIDER) is not None
    status = service.status(PROVIDER)
    assert status.state is State.REFRESH_FAILED and status.last_error == str(caught.value)


@pytest.mark.parametrize("mode", ["no_access", "not_found"])
async def test_no_copilot_access_keeps_the_login(
    service: AuthService, fake: FakeProviders, mode: str
) -> None:
    seeded = seed_copilot(fake, service.store, expires=now_ms() - 1)
    fake.copilot.mode = mode
    with pytest.raises(RefreshError, match=r"GitHub account.* has no Copilot access") as caught:
        await service.refresh(PROVIDER)
    assert caught.value.revoked is False
    assert service.store.get(PROVIDER) == seeded


async def test_test_action_lists_models(service: AuthService, fake: FakeProviders) -> None:
    seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    assert await service.test(PROVIDER) == "OK: 4 models available."
    assert fake.count("copilot.models") == 1


def test_copilot_expiry_is_expires_at_minus_five_minutes() -> None:
    now = 1_700_000_000_000
    assert copilot_expires_ms(1_700_001_800, now_ms=now) == 1_700_001_800_000 - 5 * MINUTE_MS
    assert copilot_expires_ms("1700001800", now_ms=now) == 1_700_001_800_000 - 5 * MINUTE_MS
    for garbage in (None, "soon", True, -1, float("inf")):
        assert copilot_expires_ms(garbage, now_ms=now) == now + 25 * MINUTE_MS


def test_eight_processes_exchange_once_and_print_the_same_token(tmp_path: Path, fake: FakeProviders) -> None:
    store = CredentialStore(tmp_path / "agent" / "oauth.json")
    seed_copilot(fake, store, expires=now_ms() - 1, login="octocat")
    fake.set_latency("github.copilot_token", 0.3)
    procs = start_together([["token", PROVIDER, "--agent-dir", str(store.path.parent)]] * 10, fake.env())
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    assert [r[2] for r in results] == [0] * 10, [r[1] for r in results]
    printed = {r[0].strip() for r in results}
    entry = store.get(PROVIDER)
    assert entry is not None and printed == {entry["access"]}
    assert fake.count("github.copilot_token") == 1
    assert fake.copilot.is_token_valid(entry["access"]) and "login" not in entry
    assert AuthService(store).status(PROVIDER).account == "@octocat"


# -- the API base -----------------------------------------------------------------------


TOKEN_WITH_PROXY = "tid=abc;exp=1;proxy-ep=proxy.enterprise.githubcopilot.com;8kp=1:ff"


def test_api_base_override_wins_over_everything() -> None:
    env = {"PI_TUI_COPILOT_API_URL": "https://copilot.proxy.example/base/"}
    assert (
        api_base_url(TOKEN_WITH_PROXY, "ghe.example.com", endpoints=endpoints(env))
        == "https://copilot.proxy.example/base"
    )
    loopback = endpoints({"PI_TUI_COPILOT_API_URL": "http://127.0.0.1:9/x"})
    assert api_base_url("", None, endpoints=loopback) == "http://127.0.0.1:9/x"
    override = endpoints({"PI_TUI_COPILOT_API_URL": "https://o.example"})
    assert api_base_url(TOKEN_WITH_PROXY, None, endpoints=override) == "https://o.example"


def test_api_base_override_is_checked_like_every_override() -> None:
    with pytest.raises(ConfigError, match="PI_TUI_COPILOT_API_URL"):
        endpoints({"PI_TUI_COPILOT_API_URL": "http://copilot.example"})


def test_api_base_from_token_then_enterprise_then_default() -> None:
    assert (
        api_base_url(TOKEN_WITH_PROXY, "ghe.example.com", endpoints=endpoints({}))
        == "https://api.enterprise.githubcopilot.com"
    )
    assert (
        api_base_url("tid=abc;exp=1", "ghe.example.com", endpoints=endpoints({}))
        == "https://copilot-api.ghe.example.com"
    )
    assert (
        api_base_url("tid=abc", "https://ghe.example.com/", endpoints=endpoints({}))
        == "https://copilot-api.ghe.example.com"
    )
    assert (
        api_base_url("tid=abc;exp=1", None, endpoints=endpoints({}))
        == "https://api.individual.githubcopilot.com"
    )
    assert (
        api_base_url("", "not a host", endpoints=endpoints({})) == "https://api.individual.githubcopilot.com"
    )


@pytest.mark.parametrize(
    ("token", "base"),
    [
        ("proxy-ep=proxy.individual.githubcopilot.com", "https://api.individual.githubcopilot.com"),
        ("a=1; proxy-ep=proxy.example.com:8443;b=2", "https://api.example.com:8443"),
        ("proxy-ep=copilot.example.com", "https://copilot.example.com"),
        ("proxy-ep=evil.example/path@x", None),
        ("proxy-ep=", None),
        ("xproxy-ep=proxy.example.com", None),
    ],
)
def test_proxy_endpoint_parsing(token: str, base: str | None) -> None:
    assert proxy_api_base(token) == base


# -- PiAuth -----------------------------------------------------------------------


CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}]}


async def test_copilot_auth_sets_every_header(service: AuthService, fake: FakeProviders) -> None:
    entry = seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    auth = PiAuth(service, PROVIDER)
    assert auth.base_url() == f"{fake.base}/copilot"
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        plain = await client.post("/chat/completions", json=CHAT)
        agent = await client.post(
            "/chat/completions", json=CHAT, extensions={"pi_tui": {"initiator": "agent", "vision": True}}
        )
        models = await client.get("/models", headers={"X-GitHub-Api-Version": "2026-06-01"})
    assert (plain.status_code, agent.status_code, models.status_code) == (200, 200, 200)
    first = fake.requests_for("copilot.chat")[0].headers
    assert first["authorization"] == f"Bearer {entry['access']}"
    assert first["user-agent"] == "GitHubCopilotChat/0.35.0"
    assert first["editor-version"] == "vscode/1.107.0"
    assert first["editor-plugin-version"] == "copilot-chat/0.35.0"
    assert first["copilot-integration-id"] == "vscode-chat"
    assert fake.copilot.chat_headers == [
        {"openai-intent": "conversation-edits", "x-initiator": "user", "copilot-vision-request": None},
        {"openai-intent": "conversation-edits", "x-initiator": "agent", "copilot-vision-request": "true"},
    ]
    listing = fake.requests_for("copilot.models")[0].headers
    assert "openai-intent" not in listing and "x-initiator" not in listing
    assert listing["copilot-integration-id"] == "vscode-chat"


async def test_copilot_auth_constructor_sets_initiator_and_vision(
    service: AuthService, fake: FakeProviders
) -> None:
    seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    auth = PiAuth(service, PROVIDER, initiator="agent", vision=True)
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        assert (await client.post("/chat/completions", json=CHAT)).status_code == 200
    assert fake.copilot.chat_headers == [
        {"openai-intent": "conversation-edits", "x-initiator": "agent", "copilot-vision-request": "true"}
    ]
    with pytest.raises(ValueError, match="X-Initiator"):
        PiAuth(service, PROVIDER, initiator="robot")


async def test_copilot_auth_refreshes_once_and_retries_on_401(
    service: AuthService, fake: FakeProviders
) -> None:
    old = seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    fake.copilot.expire_tokens()
    auth = PiAuth(service, PROVIDER)
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert fake.count("github.copilot_token") == 1 and fake.count("copilot.chat") == 2
    entry = service.store.get(PROVIDER)
    assert entry is not None and entry["access"] != old["access"]
    first, second = fake.requests_for("copilot.chat")
    assert first.headers["authorization"] == f"Bearer {old['access']}"
    assert second.headers["authorization"] == f"Bearer {entry['access']}"
    assert second.data == CHAT


async def test_copilot_auth_retries_only_once(service: AuthService, fake: FakeProviders) -> None:
    seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    fake.fail("copilot.chat", status=401, body={"error": {"message": "no"}}, times=5)
    auth = PiAuth(service, PROVIDER)
    async with httpx.AsyncClient(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = await client.post("/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert fake.count("copilot.chat") == 2 and fake.count("github.copilot_token") == 1


def test_copilot_auth_works_with_a_blocking_client(tmp_path: Path, fake: FakeProviders) -> None:
    service = make_service(fake, tmp_path)
    seed_copilot(fake, service.store, expires=now_ms() + 10 * MINUTE_MS)
    fake.copilot.expire_tokens()
    auth = PiAuth.from_store(service.store, PROVIDER, env=service.env)
    with httpx.Client(verify=client_tls(), auth=auth, base_url=auth.base_url()) as client:
        response = client.post("/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert fake.count("github.copilot_token") == 1
    assert json.loads(response.text)["choices"][0]["message"]["content"] == "Hi"


async def test_a_poll_lost_on_the_network_is_asked_again(service: AuthService, fake: FakeProviders) -> None:
    # A dropped connection mid-poll (what a flaky link does) must not end a login the user is
    # completing in the browser; the next poll goes out at the next interval.
    fake.fail("github.poll", kind="reset", times=2)
    login = await service.start_login("github-copilot")
    fake.github.approve()
    events = await run_poll(login)
    assert [e.kind for e in events][-1] == "done"
    assert fake.count("github.poll") >= 3
    assert service.store.get(PROVIDER) is not None


async def test_a_device_code_request_lost_on_the_network_is_asked_once_more(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("github.device_code", kind="reset")
    login = await service.start_login("github-copilot")
    assert login.user_code == fake.github.latest_user_code
    assert fake.count("github.device_code") == 2

    fake.fail("github.device_code", kind="reset", times=2)
    with pytest.raises(NetworkError, match="Could not reach GitHub"):
        await service.start_login("github-copilot")
    assert fake.count("github.device_code") == 4


async def test_a_device_code_request_the_server_refused_is_not_asked_again(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("github.device_code", status=503, body="<html>down</html>")
    with pytest.raises(NetworkError):
        await service.start_login("github-copilot")
    assert fake.count("github.device_code") == 1


async def test_a_server_gone_for_several_polls_ends_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("github.poll", kind="reset", times=10)
    login = await service.start_login("github-copilot")
    with pytest.raises(NetworkError):
        await run_poll(login)
    assert fake.count("github.poll") == 4
    assert service.store.get(PROVIDER) is None
