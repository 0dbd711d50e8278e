"""A store that is a link (a dotfile manager's) to a file with a problem: the fix-it command
names the link the user has in the agent directory, not where it points."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.errors import StoreCorrupt, StoreUnsafe
from app.store import CredentialStore
from tests.processes import run_cli
from tests.store.helpers import agent_dir, write_private


def linked_store(tmp_path: Path, target: Path) -> Path:
    link = agent_dir(tmp_path) / "auth.json"
    link.symlink_to(target)
    return link


def test_a_link_to_a_device_is_moved_aside_by_its_own_name(tmp_path: Path) -> None:
    link = linked_store(tmp_path, Path("/dev/null"))

    with pytest.raises(StoreUnsafe) as caught:
        CredentialStore(link).load()

    assert str(caught.value) == (
        f"{link} (a link to /dev/null) is a device, not a regular file. Move it out of the way "
        f"(mv {link} {link}.moved) so pi-tui can create the file."
    )


def test_a_link_to_a_file_others_can_read_is_fixed_through_the_link(tmp_path: Path) -> None:
    target = write_private(tmp_path / "dotfiles-auth.json", "{}")
    os.chmod(target, 0o644)
    link = linked_store(tmp_path, target)

    out = run_cli("status", "--agent-dir", str(link.parent))

    assert out.returncode == 3, out.stderr
    sentence = f"{link} (a link to {target}) is readable by other users (mode 0644). Run: chmod 600 {link}"
    assert sentence in out.stdout + out.stderr
    assert f"chmod 600 {target}" not in out.stdout + out.stderr


def test_a_link_to_a_damaged_file_is_named_by_the_link(tmp_path: Path) -> None:
    target = write_private(tmp_path / "dotfiles-auth.json", "{not json")
    link = linked_store(tmp_path, target)

    with pytest.raises(StoreCorrupt, match=rf"^{link} \(a link to {target}\) is not valid JSON"):
        CredentialStore(link).load()


def test_a_plain_store_is_named_as_before(tmp_path: Path) -> None:
    path = write_private(agent_dir(tmp_path) / "auth.json", json.dumps({}))
    os.chmod(path, 0o640)
    with pytest.raises(StoreUnsafe) as caught:
        CredentialStore(path).load()
    assert str(caught.value) == f"{path} is readable by other users (mode 0640). Run: chmod 600 {path}"
