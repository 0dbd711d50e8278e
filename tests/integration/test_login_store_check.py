"""Issue 11, defect 2: a store that cannot be written is found before anyone is sent to a browser."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from app.errors import StoreUnsafe, StoreWriteError
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders


def store_with_mode_0644(tmp_path: Path) -> CredentialStore:
    path = tmp_path / "agent" / "oauth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text("{}\n")
    os.chmod(path, 0o644)
    return CredentialStore(path)


def read_only_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    """``agent/`` mode 0500. Root ignores the mode, so for root the kernel's EACCES is played."""
    directory = tmp_path / "agent"
    directory.mkdir(mode=0o500)
    if os.geteuid() == 0:
        real_open = os.open

        def open_as_a_user(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_CREAT and Path(path).parent == directory:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_as_a_user)
    return CredentialStore(directory / "oauth.json")


@pytest.mark.parametrize("method", ["browser", "copy_code"])
async def test_a_0644_store_stops_an_auth_code_login_before_the_link(
    tmp_path: Path, fake: FakeProviders, method: str
) -> None:
    service = AuthService(store_with_mode_0644(tmp_path), env=fake.env())
    with pytest.raises(StoreUnsafe, match=r"readable by other users \(mode 0644\)\. Run: chmod 600"):
        await service.start_login("anthropic", method)
    assert fake.counts() == dict.fromkeys(fake.counts(), 0)


async def test_a_0644_store_stops_a_device_login_before_the_code(tmp_path: Path, fake: FakeProviders) -> None:
    service = AuthService(store_with_mode_0644(tmp_path), env=fake.env())
    with pytest.raises(StoreUnsafe):
        await service.start_login("github-copilot")
    assert fake.count("github.device_code") == 0


async def test_a_read_only_directory_stops_the_login_before_the_link(
    tmp_path: Path, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = read_only_directory(tmp_path, monkeypatch)
    service = AuthService(store, env=fake.env())
    try:
        with pytest.raises(StoreWriteError) as caught:
            await service.start_login("anthropic", "browser")
    finally:
        os.chmod(store.path.parent, 0o700)
    assert str(caught.value) == (
        f"A login could not be saved to {store.path}: permission denied (EACCES). "
        "Fix that first, then log in again; no link was opened."
    )
    assert os.listdir(store.path.parent) == []  # the check left nothing behind


async def test_a_damaged_store_does_not_stop_a_login(tmp_path: Path, fake: FakeProviders) -> None:
    path = tmp_path / "agent" / "oauth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text("{ not json")
    os.chmod(path, 0o600)
    login = await AuthService(CredentialStore(path), env=fake.env()).start_login("anthropic", "copy_code")
    await login.aclose()
    assert sorted(os.listdir(path.parent)) == ["oauth.json"]  # the probe is gone; the file is as it was
