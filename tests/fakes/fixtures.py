"""Pytest fixtures for the fake providers; import them into a conftest or a test module."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.engine import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    """A started :class:`FakeProviders` on 127.0.0.1 (ephemeral port), stopped after the test."""
    with FakeProviders() as server:
        yield server
    assert not server.errors, "the fake server failed:\n" + "\n".join(server.errors)


@pytest.fixture
def fake_env(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> FakeProviders:
    """Like ``fake``, with the ``PI_TUI_*`` overrides set in ``os.environ`` for the test."""
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    return fake


@functools.cache
def client_tls() -> ssl.SSLContext:
    """One SSL context for the tests' own httpx clients (``verify=client_tls()``). The fakes speak
    plain HTTP, but httpx builds a context, CA bundle and all (about 20 ms of CPU), for every
    client it makes."""
    return httpx.create_ssl_context()
