"""Kept for existing imports: the fake now lives in :mod:`tests.fakes.engine` and its modules."""

from tests.fakes.engine import ENDPOINTS, FakeProviders
from tests.fakes.providers.anthropic import CLIENT_ID as ANTHROPIC_CLIENT_ID
from tests.fakes.providers.github_copilot import CLIENT_ID as GITHUB_CLIENT_ID
from tests.fakes.wire import RecordedRequest

__all__ = ["ANTHROPIC_CLIENT_ID", "ENDPOINTS", "GITHUB_CLIENT_ID", "FakeProviders", "RecordedRequest"]
