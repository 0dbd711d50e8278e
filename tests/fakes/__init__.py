"""Loopback fakes of the providers pi-tui talks to: one engine, one configuration per provider."""

from tests.fakes.engine import ENDPOINTS, FakeProviders
from tests.fakes.wire import RecordedRequest

__all__ = ["ENDPOINTS", "FakeProviders", "RecordedRequest"]
