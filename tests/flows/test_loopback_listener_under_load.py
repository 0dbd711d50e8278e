"""The loopback listener stays usable and quiet whatever connects to it.

Another local user (or a browser's speculative pre-connections) can open connections to the
port and say nothing. pi-tui must keep its descriptors for the code exchange, still answer the
real redirect, drop the silent ones, and print nothing about them (tracebacks go nowhere near
the terminal). pi-tui runs as a real process with a small descriptor limit, as on macOS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from app.service import AuthService
from tests.fakes.engine import FakeProviders
from tests.fakes.fixtures import client_tls
from tests.integration.helpers import make_store
from tests.processes import ROOT, clean_env

FD_LIMIT = 128
# pi-tui's own main with a small limit on open descriptors (macOS's default is 256).
_LOW_FD_MAIN = f"""\
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}))
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_login(fake: FakeProviders, tmp_path: Path) -> subprocess.Popen[str]:
    """``pi-tui login anthropic --no-tui --method browser``, stdin closed: the browser must finish it."""
    env = fake.env() | {
        "PI_TUI_CALLBACK_PORT": "0",
        "BROWSER": "true",
        "PI_TUI_LOG_DIR": str(tmp_path / "logs"),
    }
    args = ["login", "anthropic", "--no-tui", "--method", "browser", "--agent-dir", str(tmp_path / "agent")]
    return subprocess.Popen(
        [sys.executable, "-c", _LOW_FD_MAIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        cwd=ROOT,
    )


def read_link(proc: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """The link pi-tui printed, and the lines before it."""
    assert proc.stderr is not None
    lines = []
    while True:
        line = proc.stderr.readline()
        if not line:
            proc.kill()
            raise AssertionError("pi-tui ended before printing the link: " + "".join(lines))
        if line.startswith("http"):
            return line.strip(), lines
        lines.append(line)


def callback_port(url: str) -> int:
    port = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0]).port
    assert port is not None
    return port


@contextlib.contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections to 127.0.0.1:``port`` that never send a byte (connect not awaited)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def finish(proc: subprocess.Popen[str], before: list[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=60)
    assert out == ""
    return proc.returncode, "".join(before) + err


def test_hundreds_of_silent_connections_neither_starve_nor_break_the_login(
    fake: FakeProviders, tmp_path: Path
) -> None:
    proc = start_login(fake, tmp_path)
    try:
        url, before = read_link(proc)
        with idle_connections(callback_port(url), 300):
            time.sleep(1.5)  # pi-tui takes them in
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
            assert fds < 80, f"pi-tui holds {fds} descriptors for silent connections"
            # The real browser: the provider's page sends it on to the listener.
            page = httpx.get(url, follow_redirects=True, timeout=30, verify=client_tls())
            assert page.status_code == 200 and "Signed in to Anthropic" in page.text
            code, err = finish(proc, before)
    finally:
        proc.kill()
    assert code == 0, err
    assert "Logged in to Anthropic" in err
    assert "Traceback" not in err and "Error" not in err and "error" not in err


def test_a_browser_pre_connection_leaves_nothing_on_stderr_after_a_good_login(
    fake: FakeProviders, tmp_path: Path
) -> None:
    proc = start_login(fake, tmp_path)
    try:
        url, before = read_link(proc)
        with idle_connections(callback_port(url), 1):
            page = httpx.get(url, follow_redirects=True, timeout=30, verify=client_tls())
            assert page.status_code == 200
            code, err = finish(proc, before)
    finally:
        proc.kill()
    assert code == 0, err
    assert "Traceback" not in err and "Cancelled" not in err and "Exception" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("Logged in to Anthropic (Claude Pro/Max) as user@example.com.")


async def test_a_silent_connection_is_dropped_after_a_few_seconds(
    fake: FakeProviders, tmp_path: Path
) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login("anthropic", "browser")
    assert login.listener is not None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", login.listener.port)
        began = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed without a word
        assert time.monotonic() - began < 8
        writer.close()
    finally:
        await login.aclose()


async def test_more_silent_connections_than_the_cap_still_let_the_redirect_through(
    fake: FakeProviders, tmp_path: Path
) -> None:
    service = AuthService(make_store(tmp_path), env=fake.env())
    login = await service.start_login("anthropic", "browser")
    assert login.listener is not None
    waiter = asyncio.ensure_future(login.wait_for_callback())
    opened = [await asyncio.open_connection("127.0.0.1", login.listener.port) for _ in range(40)]
    try:
        async with httpx.AsyncClient(verify=client_tls()) as browser:
            page = await asyncio.wait_for(browser.get(login.url, follow_redirects=True), 4)
        assert page.status_code == 200 and "Signed in to Anthropic" in page.text
        assert (await asyncio.wait_for(waiter, 10)).provider == "anthropic"
    finally:
        for _, writer in opened:
            writer.close()
        await login.aclose()
