"""Radius: discovery, the device flow's RFC 8628 answers, pi's entry, an older entry's gatewayConfig.

Over real HTTP to the loopback fake (``PI_TUI_RADIUS_URL`` → the fake's gateway).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from app import providers
from app.credentials import State
from app.errors import AuthError
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders

NOW = 1_800_000_000.0
SCALE = 0.01
GATEWAY_CONFIG = {"baseUrl": "https://radius.pi.dev/v1", "models": [{"id": "a"}, {"id": "b"}]}


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    fake.radius.min_poll_gap = 0.0
    store = CredentialStore(tmp_path / "agent" / "auth.json")
    return AuthService(store, env=fake.env(), clock=lambda: NOW, poll_scale=SCALE)


async def device_login(service: AuthService, fake: FakeProviders, decide: Any = None) -> Any:
    login: Any = await service.start_login("radius", "device_code")
    try:
        async for event in login.poll():
            if event.kind == "waiting" and decide is not None:
                decide(login.user_code)
                decide = None
            if event.kind == "done":
                return event.result
    finally:
        await login.aclose()
    raise AssertionError("polling ended without a result")


async def test_device_login_slows_down_when_asked_and_stores_pis_entry(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.radius.force_slow_down(2)
    fake.radius.slow_down_gap_scale = 0.0  # the fake's own gap stays 0: only the forced ones
    await device_login(service, fake, fake.radius.approve)
    polls = fake.requests_for("radius.poll")
    assert len(polls) >= 3
    # Two slow_downs: 5 s + 2 × 5 s between polls (scaled 100×), never sooner.
    assert polls[2].time - polls[1].time >= 15 * SCALE * 0.9
    assert all(p.data["client_id"] == "pi-gateway" for p in polls)
    entry = service.store.get("radius")
    assert entry is not None and set(entry) == {"type", "access", "refresh", "expires", "scope"}
    assert entry["scope"] == "gateway offline_access"
    assert entry["expires"] == int(NOW * 1000) + 3600 * 1000 - 60_000


@pytest.mark.parametrize(
    ("arrange", "sentence"),
    [
        (lambda fake: setattr(fake.radius, "approve", fake.radius.deny), "denied"),
        (
            lambda fake: setattr(fake.radius, "approve", lambda code: fake.radius.expire_device_codes()),
            "expired",
        ),
    ],
    ids=["denied", "expired"],
)
async def test_a_denied_or_expired_device_code_is_a_sentence(
    service: AuthService, fake: FakeProviders, arrange: Any, sentence: str
) -> None:
    arrange(fake)
    with pytest.raises(AuthError) as caught:
        await device_login(service, fake, fake.radius.approve)
    assert sentence in str(caught.value) and "\n" not in str(caught.value)
    assert service.store.entry("radius") is None


async def test_the_browser_login_authorizes_where_the_gateway_says(
    service: AuthService, fake: FakeProviders
) -> None:
    login: Any = await service.start_login("radius", "browser")
    await login.aclose()
    assert fake.count("radius.discovery") == 1
    params = dict(parse_qsl(urlsplit(login.url).query))
    assert login.url.startswith(f"{fake.base}/radius/authorize?")
    assert (params["client_id"], params["handoff"], params["scope"]) == (
        "pi-gateway",
        "url",
        "gateway offline_access",
    )
    assert urlsplit(params["redirect_uri"]).hostname == "127.0.0.1"
    assert urlsplit(params["redirect_uri"]).path == "/oauth/callback"


@pytest.mark.parametrize("page", ["javascript:alert(1)", "file:///etc/passwd", ""])
async def test_an_authorize_page_that_is_not_a_web_link_is_refused(
    service: AuthService, fake: FakeProviders, page: str
) -> None:
    fake.radius.authorization_endpoint = page or None
    if not page:
        fake.fail("radius.discovery", status=404, body={"error": "not_found"})
    with pytest.raises(AuthError) as caught:
        await service.start_login("radius", "browser")
    assert "\n" not in str(caught.value) and "device code" in str(caught.value)


async def test_a_refresh_keeps_an_older_entrys_gateway_config_and_nothing_else_of_it(
    service: AuthService, fake: FakeProviders
) -> None:
    tokens = fake.radius.seed_login()
    old = {"type": "oauth", **tokens, "expires": 1, "scope": "gateway", "gatewayConfig": GATEWAY_CONFIG}
    service.store.put("radius", old | {"stray": "x"})
    await service.refresh("radius")
    entry = service.store.get("radius")
    assert entry is not None and entry["gatewayConfig"] == GATEWAY_CONFIG and "stray" not in entry
    assert entry["refresh"] != tokens["refresh"]


def test_status_shows_the_gateway_and_a_known_model_count_without_a_request(
    service: AuthService, fake: FakeProviders
) -> None:
    tokens = fake.radius.seed_login()
    service.store.put("radius", {"type": "oauth", **tokens, "expires": 4_102_444_800_000})
    assert dict(service.status("radius").rows) == {"Gateway": f"{fake.base}/radius"}
    service.store.put("radius", service.store.get("radius") | {"gatewayConfig": GATEWAY_CONFIG})  # type: ignore[operator]
    assert dict(service.status("radius").rows) == {"Gateway": f"{fake.base}/radius", "Models": "2"}
    assert fake.requests == []


async def test_the_test_call_counts_the_gateways_models(service: AuthService, fake: FakeProviders) -> None:
    await device_login(service, fake, fake.radius.approve)
    assert await service.test("radius") == "OK: 3 models available."
    assert service.status("radius").state == State.LOGGED_IN


def test_device_code_is_the_default_over_ssh_and_the_gateway_defaults_to_pis() -> None:
    info = providers.provider("radius")
    assert providers.default_method(info, {"SSH_CONNECTION": "1 2 3 4"}).id == "device_code"
    assert providers.default_method(info, {"DISPLAY": ":0"}).id == "browser"
    assert providers.load("radius").endpoints({}).gateway == "https://radius.pi.dev"
