"""Pytest fixtures for the fake providers; import them into a conftest or a test module."""

from __future__ import annotations

from collections.abc import Iterator

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
