"""Fixtures for the reliability suite: the loopback fake providers."""

from tests.fakes.fixtures import fake, fake_env

__all__ = ["fake", "fake_env"]
