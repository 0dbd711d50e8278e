"""A device login survives a passing server error while it polls (a 5xx, a 429), as it survives
a dropped connection, up to the same limit; other bad answers still end it at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.errors import NetworkError
from app.flows.device import MAX_DROPPED_POLLS, DeviceLogin, PollEvent
from app.service import AuthService
from tests.fakes.server import FakeProviders
from tests.integration.helpers import device_service


@pytest.fixture
def service(fake: FakeProviders, tmp_path: Path) -> AuthService:
    fake.xai.min_poll_gap = 0.0  # polls come 50 ms apart in tests
    return device_service(fake, tmp_path)


async def _poll(login: DeviceLogin[Any], fake: FakeProviders) -> list[PollEvent[Any]]:
    """Poll to the end, approving the code in the "browser" at the first wait."""
    events: list[PollEvent[Any]] = []
    async for event in login.poll():
        events.append(event)
        if event.kind == "waiting" and not any(e.kind == "waiting" for e in events[:-1]):
            fake.xai.approve()
    return events


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "server_error"}), (502, "<html>bad gateway</html>"), (503, None)],
    ids=["500", "502 page", "503 empty"],
)
async def test_one_server_error_while_polling_does_not_end_the_login(
    service: AuthService, fake: FakeProviders, status: int, body: object
) -> None:
    fake.fail("xai.poll", status=status, body=body)
    login = await service.start_login("xai")
    events = await _poll(login, fake)
    assert events[-1].kind == "done"
    assert fake.count("xai.poll") == 2
    assert service.store.get("xai") is not None


async def test_a_429_while_polling_slows_down_and_goes_on(service: AuthService, fake: FakeProviders) -> None:
    fake.fail("xai.poll", status=429, body={"error": "rate_limited"})
    login = await service.start_login("xai")
    interval = login.interval
    events = await _poll(login, fake)
    assert events[0].kind == "slow_down" and events[-1].kind == "done"
    assert login.interval > interval
    assert service.store.get("xai") is not None


async def test_a_server_failing_several_polls_in_a_row_ends_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("xai.poll", status=500, body={"error": "server_error"}, times=10)
    login = await service.start_login("xai")
    with pytest.raises(NetworkError, match=r"server error \(HTTP 500\)"):
        await _poll(login, fake)
    assert fake.count("xai.poll") == MAX_DROPPED_POLLS + 1
    assert service.store.get("xai") is None


async def test_a_page_instead_of_an_answer_still_ends_the_login(
    service: AuthService, fake: FakeProviders
) -> None:
    fake.fail("xai.poll", status=404, body="<html>not here</html>")
    login = await service.start_login("xai")
    with pytest.raises(NetworkError, match=r"HTML page \(HTTP 404\)"):
        await _poll(login, fake)
    assert fake.count("xai.poll") == 1
