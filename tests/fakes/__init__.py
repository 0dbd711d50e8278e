"""Loopback fakes of the providers pi-tui talks to (Anthropic, GitHub, GitHub Copilot)."""

from tests.fakes.server import ENDPOINTS, FakeProviders, RecordedRequest

__all__ = ["ENDPOINTS", "FakeProviders", "RecordedRequest"]
