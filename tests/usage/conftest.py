"""Usage tests talk to the loopback fakes; logins are seeded straight into a store."""

from tests.fakes.fixtures import fake, fake_env

__all__ = ["fake", "fake_env"]
