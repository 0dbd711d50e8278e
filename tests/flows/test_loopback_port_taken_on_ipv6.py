"""A port another user holds on [::1] is a taken port, just as one held on 127.0.0.1.

The redirect says ``localhost``, which a browser may resolve to ::1 first: with pi-tui on
127.0.0.1 only, whoever squats [::1]:PORT receives the browser's redirect and its code. These
tests squat ::1 with a real socket.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.errors import AuthError
from app.service import AuthService
from tests.fakes.engine import FakeProviders
from tests.integration.helpers import make_store
from tests.processes import ROOT, clean_env


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")


@pytest.fixture
def squatted() -> Iterator[int]:
    """A port that is free on 127.0.0.1 and held by someone else on [::1]."""
    for _ in range(20):
        squatter = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::1", 0))
        port = squatter.getsockname()[1]
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            squatter.close()
            continue
        squatter.listen()
        with squatter:
            yield port
        return
    raise AssertionError("no port free on 127.0.0.1 next to one taken on ::1")


def service_on(fake: FakeProviders, tmp_path: Path, port: int) -> AuthService:
    return AuthService(make_store(tmp_path), env=fake.env() | {"PI_TUI_CALLBACK_PORT": str(port)})


async def test_a_provider_with_a_fixed_port_falls_back_to_paste(
    fake: FakeProviders, tmp_path: Path, squatted: int
) -> None:
    login = await service_on(fake, tmp_path, squatted).start_login("openai-codex", "browser")
    try:
        assert not login.listening
        assert login.bind_error.startswith(f"Port {squatted} is in use")
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", squatted), 5):
            pass  # pi-tui let go of 127.0.0.1 too
    finally:
        await login.aclose()


async def test_a_provider_that_allows_any_port_takes_one_free_on_both_addresses(
    fake: FakeProviders, tmp_path: Path, squatted: int
) -> None:
    login = await service_on(fake, tmp_path, squatted).start_login("anthropic", "browser")
    try:
        assert login.listening
        port = urlsplit(login.redirect_uri).port
        assert port != squatted and urlsplit(login.redirect_uri).hostname == "localhost"
        for host in ("127.0.0.1", "::1"):
            with socket.create_connection((host, port), 5):
                pass  # both are pi-tui's
    finally:
        await login.aclose()


async def test_a_provider_that_needs_its_listener_says_it_could_not_listen(
    fake: FakeProviders, tmp_path: Path, squatted: int
) -> None:
    sentence = rf"could not listen on port {squatted} of 127\.0\.0\.1 and ::1 for OpenRouter's redirect"
    with pytest.raises(AuthError, match=sentence):
        await service_on(fake, tmp_path, squatted).start_login("openrouter")


def test_no_tui_says_the_port_is_in_use_and_takes_the_paste(
    fake: FakeProviders, tmp_path: Path, squatted: int
) -> None:
    env = fake.env() | {"PI_TUI_CALLBACK_PORT": str(squatted), "BROWSER": "true"}
    env["PI_TUI_LOG_DIR"] = str(tmp_path / "logs")
    args = ["login", "openai-codex", "--no-tui", "--method", "browser"]
    args += ["--agent-dir", str(tmp_path / "agent")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        seen = []
        while not (line := proc.stderr.readline()).startswith("http"):
            assert line, "pi-tui ended before printing the link: " + "".join(seen)
            seen.append(line)
        url = line.strip()
        assert parse_qs(urlsplit(url).query)["redirect_uri"] == [f"http://localhost:{squatted}/auth/callback"]
        _, err = proc.communicate(fake.codex.redirect_for(url) + "\n", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    notice = (
        f"Port {squatted} is in use (the Codex CLI uses it too), so the browser cannot come back to "
        "pi-tui by itself."
    )
    assert notice in err
    assert "Logged in to" in err
