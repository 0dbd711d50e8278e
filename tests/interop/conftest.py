"""The interop tests run pi-tui against the real pi 1.6.0 (installed once per machine, see install.py).

If Node or pi cannot be installed, every interop test fails with the reason: these tests are
part of what "pi-tui works with pi" means, so they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake, fake_env
from tests.interop.install import InstallError, PiInstall, install_pi
from tests.interop.real_pi import RealPi, Tripwire

__all__ = ["fake", "fake_env"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The first test also pays for the one-time npm install (~20 s, more on a slow network).
    for item in items:
        if "tests/interop/" in item.nodeid:
            item.add_marker(pytest.mark.timeout(300))


@pytest.fixture(scope="session")
def pi_install() -> PiInstall:
    """Node ≥ 22 and pi 1.6.0, from the cache or installed now; a clear failure otherwise."""
    try:
        return install_pi()
    except InstallError as error:
        pytest.fail(f"the real pi is not available: {error}", pytrace=False)


@pytest.fixture
def real_pi(pi_install: PiInstall, tmp_path: Path) -> Iterator[RealPi]:
    """pi bound to ``tmp_path/agent``; fails the test if pi tried to reach the network."""
    home = tmp_path / "pi-home"
    home.mkdir()
    tripwire = Tripwire()
    try:
        yield RealPi(pi_install, tmp_path / "agent", home, tripwire)
    finally:
        tripwire.close()
    assert tripwire.hits == [], f"pi tried to reach the network: {tripwire.hits}"
