"""An answer that never ends, or a small gzip bomb, stops at 1 MiB: pi-tui's memory stays small
and the user reads one sentence (the stored login is kept)."""

from __future__ import annotations

import gzip
import os
import resource
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from app.store import CredentialStore
from tests.fakes.providers import xai
from tests.integration.helpers import now_ms
from tests.processes import ROOT, clean_env

GIB = 1 << 30
# What the pi-tui process may map at most: an answer read whole (the old way) goes past it and
# fails at once instead of taking the machine's memory.
ADDRESS_SPACE_LIMIT = GIB
MAX_RSS_KIB = 160 * 1024


@cache
def gzip_bomb(size: int = 2 * GIB) -> bytes:
    """A gzip body of about 2 MB that inflates to ``size`` zero bytes.

    After a full flush, deflate starts afresh: every MiB of zeros compresses to the same bytes,
    so the body is one compressed MiB repeated (built in milliseconds, not seconds).
    """
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = size >> 20
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + first + again * (count - 1) + deflate.flush() + trailer


def test_the_bomb_is_what_it_claims() -> None:
    small = gzip_bomb(8 << 20)
    assert gzip.decompress(small) == bytes(8 << 20)
    assert len(gzip_bomb()) < 4 << 20


Answer = Callable[[socket.socket], None]


def endless_json(sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[")
    chunk = b"0," * 32768
    while True:
        sock.sendall(chunk)


def bomb(sock: socket.socket) -> None:
    body = gzip_bomb()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)


@pytest.fixture
def loopback() -> Iterator[Callable[[Answer], str]]:
    """Start a server on 127.0.0.1 that answers every request with ``answer``; its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve(answer: Answer) -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536) or b"\r\n\r\n"
                    answer(conn)
                except OSError:
                    pass  # the client stopped reading and closed: as it should

    def start(answer: Answer) -> str:
        thread = threading.Thread(target=serve, args=(answer,), daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    for thread in threads:
        thread.join(5)
    listener.close()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_measured(*args: str, env: dict[str, str]) -> tuple[int, str, str, int]:
    """``python -m app.cli ARGS`` under an address-space limit: (exit code, stdout, stderr, peak RSS KiB)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(env),
        cwd=ROOT,
        preexec_fn=_limit_memory,
    )
    timer = threading.Timer(90, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.decode(), err.decode(), usage.ru_maxrss


@pytest.mark.parametrize("answer", [endless_json, bomb], ids=["endless body", "gzip bomb"])
def test_a_huge_answer_stops_at_a_mebibyte(
    tmp_path: Path, loopback: Callable[[Answer], str], answer: Answer
) -> None:
    base = loopback(answer)
    store = CredentialStore(tmp_path / "agent" / "auth.json")
    entry = {
        "type": "oauth",
        "access": "xai-at-" + "a" * 40,
        "refresh": "xai-rt-" + "r" * 40,
        "expires": now_ms() - 1,
    }
    store.put("xai", entry)
    code, out, err, peak_kib = run_measured(
        "token", "xai", "--agent-dir", str(store.path.parent), env=xai.CONFIG.env(base)
    )
    assert (code, out) == (4, ""), err
    assert err == (
        "pi-tui: xAI's answer was larger than 1 MiB, far more than pi-tui expects, so it stopped "
        "reading; try again later.\n"
    )
    assert peak_kib < MAX_RSS_KIB
    assert store.get("xai") == entry  # nothing lost


def _answer_with(body: bytes, encoding: str | None) -> Answer:
    def answer(sock: socket.socket) -> None:
        coding = f"Content-Encoding: {encoding}\r\n" if encoding else ""
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{coding}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)

    return answer


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


DOC = b'{"data": [' + b",".join(b'{"id": "model-%d"}' % i for i in range(2000)) + b"]}"


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (DOC, None),
        (gzip.compress(DOC), "gzip"),
        (zlib.compress(DOC), "deflate"),
        (_raw_deflate(DOC), "deflate"),
        (gzip.compress(gzip.compress(DOC)), "gzip, gzip"),
    ],
    ids=["plain", "gzip", "deflate", "raw deflate", "gzip twice"],
)
def test_ordinary_answers_are_read_whole(
    loopback: Callable[[Answer], str], body: bytes, encoding: str | None
) -> None:
    from app.http import make_client, request_json

    base = loopback(_answer_with(body, encoding))

    async def ask() -> object:
        async with make_client() as client:
            return (await request_json(client, "GET", f"{base}/models", what="xAI")).data

    import asyncio

    data = asyncio.run(ask())
    assert isinstance(data, dict) and len(data["data"]) == 2000


@pytest.mark.parametrize(
    ("body", "encoding", "sentence"),
    [
        (b"x" * 2049, None, "xAI's answer was larger than 2 KiB"),
        (gzip.compress(b" " * 2049), "gzip", "xAI's answer was larger than 2 KiB"),
        (b"{}", "br", "xAI sent its answer in an encoding pi-tui did not ask for (br)"),
        # A gzip header, then a deflate block of the reserved type 3.
        (
            gzip.compress(b"{}")[:10] + b"\xff" * 16,
            "gzip",
            "xAI sent a compressed answer that cannot be read",
        ),
    ],
    ids=["over the limit", "over the limit once inflated", "unknown encoding", "corrupt gzip"],
)
def test_unusable_answers_are_a_sentence(
    loopback: Callable[[Answer], str], body: bytes, encoding: str | None, sentence: str
) -> None:
    from app.errors import NetworkError
    from app.http import make_client, request_json

    base = loopback(_answer_with(body, encoding))

    async def ask() -> object:
        async with make_client() as client:
            return await request_json(client, "GET", f"{base}/models", what="xAI", limit=2048)

    import asyncio

    with pytest.raises(NetworkError) as failed:
        asyncio.run(ask())
    assert str(failed.value).startswith(sentence)
    assert str(failed.value).count(". ") == 0 and str(failed.value).endswith("try again later.")
