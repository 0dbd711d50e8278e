"""make_client: every client shares one SSL context, built the way httpx's trust_env builds it."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from app.http import make_client, ssl_context, warm_up

Loads = list[tuple[str | None, str]]  # (cafile, name of the thread that loaded it)


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loads]:
    """Every CA bundle load from here on, starting from an empty cache."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    loads: Loads = []
    original = ssl.SSLContext.load_verify_locations

    def load_verify_locations(self: ssl.SSLContext, cafile: str | None = None, *args: object) -> None:
        loads.append((cafile, threading.current_thread().name))
        original(self, cafile, *args)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", load_verify_locations)
    ssl_context.cache_clear()
    yield loads
    ssl_context.cache_clear()


async def test_clients_load_the_ca_bundle_once_per_process(bundle_loads: Loads) -> None:
    async with make_client() as first, make_client() as second:
        assert first is not second
    assert [cafile for cafile, _ in bundle_loads] == [certifi.where()]


async def test_ssl_cert_file_is_honoured(
    bundle_loads: Loads, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corporate.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with make_client():
        pass
    assert [cafile for cafile, _ in bundle_loads] == [str(bundle)]


async def test_warm_up_loads_the_bundle_off_the_event_loop_thread(bundle_loads: Loads) -> None:
    await warm_up()
    async with make_client():
        pass
    assert len(bundle_loads) == 1
    assert bundle_loads[0][1] != threading.current_thread().name
