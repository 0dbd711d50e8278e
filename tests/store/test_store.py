"""The credential store: pi's oauth.json, locked, atomic, 0600, keeping what it does not know."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app.store.document as store_module
from app.errors import StoreCorrupt, StoreLockTimeout, StoreUnsafe, StoreWriteError
from app.store import WRITE_STEPS, CredentialStore

WORKER = Path(__file__).with_name("store_worker.py")


def login(tag: str = "1", **extra: Any) -> dict[str, Any]:
    """A pi OAuth entry whose tokens are recognisable by ``tag``."""
    return {
        "type": "oauth",
        "refresh": f"refresh-{tag}",
        "access": f"access-{tag}",
        "expires": 1_700_000_000_000,
        **extra,
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def write_store(path: Path, text: str | bytes, file_mode: int = 0o600) -> None:
    """Put ``text`` at ``path`` as a pre-existing store (as pi or a user would have left it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, file_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def failing(error_number: int) -> Any:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(error_number, os.strerror(error_number))

    return fail


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "agent" / "oauth.json"


@pytest.fixture
def store(path: Path) -> CredentialStore:
    return CredentialStore(path, lock_timeout=2.0)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask whatever the test sets."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


# --- round trip and format -----------------------------------------------------------------------


def test_load_of_missing_file_is_empty_and_creates_nothing(store: CredentialStore, path: Path) -> None:
    assert store.load() == {}
    assert store.get("anthropic") is None
    assert not path.parent.exists()


def test_put_then_get_round_trips_the_entry(store: CredentialStore) -> None:
    entry = login(enterpriseUrl="ghe.example.com", email="me@example.com")
    store.put("github-copilot", entry)

    assert store.get("github-copilot") == entry
    assert store.load() == {"github-copilot": entry}
    assert CredentialStore(store.path).get("github-copilot") == entry


def test_put_keeps_unknown_keys_and_providers(store: CredentialStore, path: Path) -> None:
    original = {
        "google-gemini-cli": {"type": "oauth", "projectId": "p-1", "nested": {"z": 1, "a": [1.5, None]}},
        "anthropic": login("old", accountUuid="u-1", zeta=True),
        "something-else": ["kept", {"b": 2, "a": 1}],
    }
    write_store(path, json.dumps(original))

    store.put("github-copilot", login("new"))

    doc = store.load()
    assert list(doc) == ["google-gemini-cli", "anthropic", "something-else", "github-copilot"]
    for key, value in original.items():
        assert json.dumps(doc[key]) == json.dumps(value)  # same meaning, same key order


def test_put_replaces_an_existing_provider_in_place(store: CredentialStore, path: Path) -> None:
    write_store(path, json.dumps({"anthropic": login("old"), "github-copilot": login("gh")}))

    store.put("anthropic", login("new"))

    doc = store.load()
    assert list(doc) == ["anthropic", "github-copilot"]
    assert doc["anthropic"] == login("new")


def test_written_file_is_two_space_indented_json_with_trailing_newline(
    store: CredentialStore, path: Path
) -> None:
    store.put("anthropic", login())

    text = path.read_text()
    assert text == json.dumps({"anthropic": login()}, indent=2) + "\n"
    assert '\n  "anthropic": {\n    "type": "oauth",' in text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=st.dictionaries(st.text(max_size=10).filter(lambda k: k != "anthropic"), json_values, max_size=4)
)
def test_put_keeps_any_other_document_content_and_order(others: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "oauth.json"
        write_store(path, json.dumps(others))

        CredentialStore(path).put("anthropic", login())

        doc = CredentialStore(path).load()
        assert list(doc) == [*others, "anthropic"]
        assert json.dumps({k: doc[k] for k in others}) == json.dumps(others)


def test_delete_removes_only_that_provider(store: CredentialStore, path: Path) -> None:
    write_store(path, json.dumps({"anthropic": login("a"), "x-unknown": {"k": 1}}))

    assert store.delete("anthropic") is True

    assert store.load() == {"x-unknown": {"k": 1}}


def test_delete_of_absent_provider_returns_false_and_does_not_write(
    store: CredentialStore, path: Path
) -> None:
    write_store(path, json.dumps({"x-unknown": {"k": 1}}))
    before = os.stat(path)

    assert store.delete("anthropic") is False

    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_put_rejects_an_entry_pi_could_not_use_without_touching_the_file(
    store: CredentialStore, path: Path
) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}))
    before = path.read_bytes()

    with pytest.raises(ValueError, match="expires"):
        store.put("anthropic", {"type": "oauth", "access": "a", "refresh": "r"})

    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "entry", [login() | {"when": object()}, login() | {"expires": float("inf")}, login() | {"access": 1}]
)
def test_put_rejects_an_entry_that_is_not_plain_json_before_any_file_work(
    store: CredentialStore, path: Path, entry: dict[str, Any]
) -> None:
    write_store(path, "damaged")

    with pytest.raises(ValueError, match="Refusing to store the anthropic login"):
        store.put("anthropic", entry)

    assert store.last_backup is None
    assert path.read_text() == "damaged"


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("process_umask", [0o000, 0o077, 0o277])
def test_new_store_is_0700_directories_and_0600_files_whatever_the_umask(
    tmp_path: Path, umask: None, process_umask: int
) -> None:
    path = tmp_path / "home" / ".pi" / "agent" / "oauth.json"
    os.umask(process_umask)

    CredentialStore(path).put("anthropic", login())

    for directory in (tmp_path / "home", tmp_path / "home" / ".pi", path.parent):
        assert mode(directory) == 0o700, directory
    assert mode(path) == 0o600
    assert mode(path.with_name("oauth.json.lock")) == 0o600


def test_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    directory = tmp_path / "agent"
    directory.mkdir()
    os.chmod(directory, 0o755)

    CredentialStore(directory / "oauth.json").put("anthropic", login())

    assert mode(directory) == 0o755
    assert mode(directory / "oauth.json") == 0o600


def test_rewrite_of_a_0400_file_writes_0600(store: CredentialStore, path: Path) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}), file_mode=0o400)

    store.put("anthropic", login("new"))

    assert mode(path) == 0o600


# --- unsafe stores -------------------------------------------------------------------------------


def assert_refused_everywhere(store: CredentialStore, match: str) -> None:
    with pytest.raises(StoreUnsafe, match=match):
        store.load()
    with pytest.raises(StoreUnsafe, match=match):
        store.get("anthropic")
    with pytest.raises(StoreUnsafe, match=match):
        store.put("anthropic", login())
    with pytest.raises(StoreUnsafe, match=match):
        store.delete("anthropic")


def test_symlink_of_ours_to_a_file_of_ours_is_followed_and_the_target_written(
    store: CredentialStore, path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "dotfiles" / "pi-oauth.json"
    target.parent.mkdir()
    write_store(target, json.dumps({"anthropic": login("old")}))
    path.parent.mkdir()
    path.symlink_to(target)

    assert store.get("anthropic") == login("old")
    store.put("github-copilot", login("gh"))

    assert path.is_symlink()  # the link stays; the file it points to is replaced
    assert json.loads(target.read_text()) == {"anthropic": login("old"), "github-copilot": login("gh")}
    assert store.lock_path == target.with_name("pi-oauth.json.lock")
    assert mode(target) == 0o600


def test_symlink_to_a_file_of_another_user_is_refused_and_its_target_untouched(
    store: CredentialStore, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere.json"
    write_store(target, json.dumps({"anthropic": login("old")}))
    before = target.read_bytes()
    path.parent.mkdir()
    path.symlink_to(target)
    real_lstat = os.lstat

    def foreign_target(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        st = real_lstat(name, *args, **kwargs)
        if os.fspath(name) != os.fspath(target):
            return st
        fields = list(st)
        fields[4] = os.getuid() + 1  # st_uid
        return os.stat_result(fields)

    monkeypatch.setattr(store_module.os, "lstat", foreign_target)
    assert_refused_everywhere(store, "symbolic link")
    monkeypatch.undo()

    assert target.read_bytes() == before
    assert path.is_symlink()


def test_dangling_symlink_is_refused_and_nothing_created(
    store: CredentialStore, path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "nowhere.json"
    path.parent.mkdir()
    path.symlink_to(target)

    assert_refused_everywhere(store, "symbolic link")

    assert not target.exists()


def test_directory_in_place_of_the_store_is_refused(store: CredentialStore, path: Path) -> None:
    path.mkdir(parents=True)

    assert_refused_everywhere(store, "is a directory, not a regular file")


def load_without_hanging(store: CredentialStore, path: Path) -> BaseException:
    """Run ``store.load()`` in a thread; fail (after unblocking it) if it hangs on a FIFO."""
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            store.load()
        except BaseException as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # a writer unblocks the reader
        reader.join(5)
        pytest.fail("load() blocked on a FIFO")
    assert len(outcome) == 1
    return outcome[0]


def test_fifo_in_place_of_the_store_is_refused_without_blocking(store: CredentialStore, path: Path) -> None:
    path.parent.mkdir()
    os.mkfifo(path, 0o600)

    error = load_without_hanging(store, path)

    assert isinstance(error, StoreUnsafe) and "named pipe" in str(error)
    with pytest.raises(StoreUnsafe):
        store.put("anthropic", login())
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_fifo_swapped_in_after_the_check_is_refused_without_blocking(
    store: CredentialStore, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.parent.mkdir()
    os.mkfifo(path, 0o600)
    regular = tmp_path / "regular.json"
    write_store(regular, "{}")
    real_lstat = os.lstat

    def lstat_before_the_swap(file: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        return real_lstat(regular if str(file) == str(path) else file, *args, **kwargs)

    monkeypatch.setattr(store_module.os, "lstat", lstat_before_the_swap)

    error = load_without_hanging(store, path)

    assert isinstance(error, StoreUnsafe) and "named pipe" in str(error)


@pytest.mark.parametrize(
    ("file_mode", "exposure"),
    [
        (0o644, "readable"),
        (0o640, "readable"),
        (0o604, "readable"),
        (0o602, "writable"),
        (0o666, "readable and writable"),
    ],
)
def test_store_usable_by_other_users_is_refused_with_the_chmod_to_run(
    store: CredentialStore, path: Path, file_mode: int, exposure: str
) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}), file_mode=file_mode)
    before = path.read_bytes()

    with pytest.raises(StoreUnsafe) as caught:
        store.load()
    assert str(caught.value) == (
        f"{path} is {exposure} by other users (mode 0{file_mode:o}). Run: chmod 600 {path}"
    )
    assert_refused_everywhere(store, "chmod 600")
    assert path.read_bytes() == before
    assert mode(path) == file_mode


def test_store_owned_by_another_user_is_refused(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}))
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)  # a real stranger's file
    else:
        monkeypatch.setattr(store_module.os, "geteuid", lambda: os.getuid() + 1)
    before = path.read_bytes()

    with pytest.raises(StoreUnsafe, match="belongs to another user"):
        store.load()
    with pytest.raises(StoreUnsafe, match="chown"):
        store.put("anthropic", login("new"))
    assert path.read_bytes() == before


def test_symlinked_lock_file_is_refused(store: CredentialStore, path: Path, tmp_path: Path) -> None:
    path.parent.mkdir()
    store.lock_path.symlink_to(tmp_path / "elsewhere.lock")

    with pytest.raises(StoreUnsafe, match="symbolic link"):
        store.put("anthropic", login())
    assert not (tmp_path / "elsewhere.lock").exists()
    assert not path.exists()


# --- damaged stores ------------------------------------------------------------------------------


def test_corrupt_json_is_reported_and_kept(store: CredentialStore, path: Path) -> None:
    write_store(path, '{"anthropic": {"type": "oauth", "access": "sk-ant-oat01-secret"')
    before = path.read_bytes()

    with pytest.raises(StoreCorrupt) as caught:
        store.load()

    message = str(caught.value)
    assert str(path) in message and "not valid JSON" in message and "kept as it is" in message
    assert "secret" not in message
    with pytest.raises(StoreCorrupt):
        store.get("github-copilot")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "kind"), [("[]", "array"), ('"text"', "string"), ("42", "number"), ("null", "literal")]
)
def test_json_that_is_not_an_object_is_corrupt(
    store: CredentialStore, path: Path, text: str, kind: str
) -> None:
    write_store(path, text)

    with pytest.raises(StoreCorrupt, match=f"holds a JSON {kind}, not an object"):
        store.load()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"a": 1}\x00', "NUL bytes"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": NaN}', "NaN or Infinity"),
        (b"", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_unparseable_bytes_are_corrupt(
    store: CredentialStore, path: Path, content: bytes, reason: str
) -> None:
    write_store(path, content)

    with pytest.raises(StoreCorrupt, match=reason):
        store.load()


def test_file_that_cannot_be_read_is_corrupt(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_store(path, json.dumps({"anthropic": login()}))
    monkeypatch.setattr(store_module.os, "read", failing(errno.EIO))

    with pytest.raises(StoreCorrupt) as caught:
        store.load()

    monkeypatch.undo()
    assert str(caught.value).startswith(f"{path} cannot be read (Input/output error). It is kept as it is")


def test_file_over_16_mib_is_corrupt_without_reading_it(store: CredentialStore, path: Path) -> None:
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: costs no disk
    os.chmod(path, 0o600)

    with pytest.raises(StoreCorrupt, match="more than the 16 MiB"):
        store.load()


def test_put_sets_a_corrupt_file_aside_then_writes_only_the_new_entry(
    store: CredentialStore, path: Path
) -> None:
    damaged = b'{"anthropic": {"type": "oauth", "access": "x"'
    write_store(path, damaged)

    store.put("github-copilot", login("gh"))

    backup = store.last_backup
    assert backup is not None and backup.parent == path.parent
    assert backup.name.startswith("oauth.json.corrupt-")
    assert time.strptime(backup.name.removeprefix("oauth.json.corrupt-"), "%Y%m%d-%H%M%S")
    assert backup.read_bytes() == damaged
    assert mode(backup) == 0o600
    assert store.load() == {"github-copilot": login("gh")}


def test_backups_in_the_same_second_get_a_suffix(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module.time, "strftime", lambda _fmt: "20250102-030405")
    backups = []
    for n in range(3):
        write_store(path, f"damaged {n}")
        store.put("anthropic", login())
        backups.append(store.last_backup)

    assert [b.name for b in backups if b] == [
        "oauth.json.corrupt-20250102-030405",
        "oauth.json.corrupt-20250102-030405-1",
        "oauth.json.corrupt-20250102-030405-2",
    ]
    assert [b.read_text() for b in backups if b] == ["damaged 0", "damaged 1", "damaged 2"]


def test_corrupt_file_is_copied_when_hard_links_are_unavailable(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_store(path, "not json")

    def no_links(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(store_module.os, "link", no_links)
    store.put("anthropic", login())

    assert store.last_backup is not None
    assert store.last_backup.read_text() == "not json"
    assert mode(store.last_backup) == 0o600


def test_delete_on_a_corrupt_file_sets_it_aside_and_reports_nothing_removed(
    store: CredentialStore, path: Path
) -> None:
    write_store(path, "{{{")

    assert store.delete("anthropic") is False

    assert store.last_backup is not None and store.last_backup.read_text() == "{{{"
    assert store.load() == {}


def test_malformed_entry_does_not_affect_another_provider(store: CredentialStore, path: Path) -> None:
    bad = {"type": "oauth", "access": 12, "refresh": "r"}
    write_store(path, json.dumps({"anthropic": bad, "github-copilot": login("gh")}))

    assert store.get("github-copilot") == login("gh")
    with pytest.raises(
        StoreCorrupt, match=r"The anthropic login in .* \(\"access\" is missing or not a string\)"
    ):
        store.get("anthropic")

    store.put("github-copilot", login("gh2"))

    assert store.last_backup is None
    assert store.load() == {"anthropic": bad, "github-copilot": login("gh2")}


@pytest.mark.parametrize(
    "bad",
    [
        "a string",
        None,
        {"type": "api_key", "key": 1},
        {"type": "bearer", "token": "k"},
        {"type": "oauth", "access": "a", "refresh": None, "expires": 1},
        {"type": "oauth", "access": "a", "refresh": "r", "expires": "soon"},
        {"type": "oauth", "access": "a", "refresh": "r", "expires": True},
    ],
)
def test_get_of_malformed_entry_raises_store_corrupt_naming_the_provider(
    store: CredentialStore, path: Path, bad: Any
) -> None:
    write_store(path, json.dumps({"anthropic": bad}))

    with pytest.raises(StoreCorrupt, match="The anthropic login"):
        store.get("anthropic")


def test_put_over_a_malformed_entry_sets_the_file_aside_and_replaces_it(
    store: CredentialStore, path: Path
) -> None:
    original = json.dumps({"anthropic": {"type": "oauth"}, "x-other": {"k": 1}}).encode()
    write_store(path, original)

    store.put("anthropic", login("new"))

    assert store.last_backup is not None and store.last_backup.read_bytes() == original
    assert store.load() == {"anthropic": login("new"), "x-other": {"k": 1}}


def test_read_during_a_non_atomic_write_by_pi_looks_again(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete = json.dumps({"anthropic": login()}, indent=2)
    write_store(path, complete[:20])  # pi truncates, then writes: we caught it half way
    monkeypatch.setattr(store_module, "_pause_for_other_writer", lambda: path.write_text(complete))

    assert store.load() == {"anthropic": login()}


# --- failed writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "error_number", "reason"),
    [
        ("write", errno.ENOSPC, "the disk is full"),
        ("fsync", errno.ENOSPC, "the disk is full"),
        ("fsync", errno.EIO, "an I/O error"),
        ("replace", errno.EIO, "an I/O error"),
    ],
)
def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    store: CredentialStore,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    error_number: int,
    reason: str,
) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}))
    before = path.read_bytes()
    monkeypatch.setattr(store_module.os, function, failing(error_number))

    with pytest.raises(StoreWriteError) as caught:
        store.put("anthropic", login("new"))

    monkeypatch.undo()
    assert str(caught.value).startswith(f"Could not save {path}: {reason}")
    assert "access-new" not in str(caught.value)
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []


@pytest.mark.parametrize("error_number", [errno.EROFS, errno.EACCES])
def test_read_only_directory_raises_store_write_error(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch, error_number: int
) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}))
    before = path.read_bytes()
    real_open = os.open

    # chmod 0500 on the directory would be the real test, but root ignores directory permissions,
    # so the error a read-only directory gives is injected where the temp file is created.
    def open_read_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(file).endswith(".tmp"):
            raise OSError(error_number, os.strerror(error_number), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(store_module.os, "open", open_read_only)

    with pytest.raises(StoreWriteError, match=f"Could not save {path}"):
        store.put("anthropic", login("new"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []


def test_leftover_temp_files_are_ignored_and_old_ones_cleaned_up(store: CredentialStore, path: Path) -> None:
    write_store(path, json.dumps({"anthropic": login("old")}))
    fresh = path.with_name(".oauth.json.0123456789abcdef.tmp")
    stale = path.with_name(".oauth.json.fedcba9876543210.tmp")
    for leftover in (fresh, stale):
        leftover.write_text('{"anthropic": {"type": "oa')
    old = time.time() - 120
    os.utime(stale, (old, old))

    assert store.load() == {"anthropic": login("old")}
    store.put("anthropic", login("new"))

    assert store.get("anthropic") == login("new")
    assert temp_files(path.parent) == [fresh.name]


# --- the lock ------------------------------------------------------------------------------------


class LockHolder:
    """Another process that holds the store lock until told to stop."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), "hold", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(10) == 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def test_lock_excludes_another_process(path: Path) -> None:
    holder = LockHolder(path)
    try:
        store = CredentialStore(path, lock_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StoreLockTimeout) as caught:
            store.put("anthropic", login())
        assert time.monotonic() - started >= 0.25
        assert str(caught.value).startswith(
            f"Another pi-tui or pi process has held {store.lock_path} for 0.3 s; try again"
        )
    finally:
        holder.release()

    store.put("anthropic", login())
    assert store.get("anthropic") == login()


def test_waiting_for_the_lock_ends_when_unless_says_so(path: Path) -> None:
    holder = LockHolder(path)
    asked = []
    try:
        store = CredentialStore(path, lock_timeout=10)
        started = time.monotonic()
        with store.transaction(unless=lambda: asked.append(1) or len(asked) >= 3) as tx:
            assert not tx.held
            with pytest.raises(RuntimeError):
                tx.get("anthropic")
        assert time.monotonic() - started < 5
        assert len(asked) == 3
    finally:
        holder.release()
    with store.transaction(unless=lambda: True) as tx:
        assert tx.held  # a free lock is taken without asking


def test_lock_of_a_killed_process_is_dropped_by_the_kernel(path: Path) -> None:
    holder = LockHolder(path)
    holder.kill()

    CredentialStore(path, lock_timeout=1.0).put("anthropic", login())


def test_lock_is_released_when_the_block_raises(store: CredentialStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.put("anthropic", login())
        raise RuntimeError("boom")

    with CredentialStore(store.path, lock_timeout=0.2).transaction() as tx:
        assert tx.get("anthropic") == login()


def test_lock_file_is_permanent_and_private(store: CredentialStore) -> None:
    with store.transaction():
        assert store.lock_path.exists()
    store.put("anthropic", login())
    store.delete("anthropic")

    assert store.lock_path == store.path.with_name("oauth.json.lock")
    assert store.lock_path.exists()
    assert mode(store.lock_path) == 0o600


def test_lock_file_with_a_loose_mode_is_made_private(store: CredentialStore, path: Path) -> None:
    path.parent.mkdir()
    store.lock_path.touch()
    os.chmod(store.lock_path, 0o666)

    store.put("anthropic", login())

    assert mode(store.lock_path) == 0o600


def test_transaction_methods_need_the_block(store: CredentialStore) -> None:
    tx = store.transaction()
    with pytest.raises(RuntimeError):
        tx.load()
    with tx:
        pass
    with pytest.raises(RuntimeError):
        tx.put("anthropic", login())
    with pytest.raises(RuntimeError), tx:
        pass


def test_transactions_in_two_threads_exclude_each_other(store: CredentialStore) -> None:
    store.put("anthropic", login() | {"expires": 0})
    inside: list[str] = []

    def increment(name: str) -> None:
        with store.transaction() as tx:
            inside.append(f"{name} in")
            entry = tx.get("anthropic")
            assert entry is not None
            time.sleep(0.05)  # a lost update would show if the other thread got in meanwhile
            tx.put("anthropic", entry | {"expires": entry["expires"] + 1})
            inside.append(f"{name} out")

    threads = [threading.Thread(target=increment, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    entry = store.get("anthropic")
    assert entry is not None and entry["expires"] == 4
    assert all(inside[i].split()[0] == inside[i + 1].split()[0] for i in range(0, len(inside), 2))


async def test_async_transaction_waits_for_the_lock_without_blocking_the_event_loop(
    store: CredentialStore,
) -> None:
    loop = asyncio.get_running_loop()
    holder = store.transaction()
    holder.__enter__()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        holder.__exit__(None, None, None)

    ticker = asyncio.create_task(tick())
    releaser = asyncio.create_task(release_later())
    started = loop.time()
    async with store.transaction() as tx:
        waited = loop.time() - started
        tx.put("anthropic", login())
    ticker.cancel()
    await releaser

    assert waited >= 0.25
    assert ticks >= 10
    assert store.get("anthropic") == login()


async def test_transactions_of_two_asyncio_tasks_exclude_each_other(store: CredentialStore) -> None:
    store.put("anthropic", login() | {"expires": 0})
    events: list[str] = []

    async def increment(name: str) -> None:
        async with store.transaction() as tx:
            events.append(f"{name} in")
            entry = tx.get("anthropic")
            assert entry is not None
            await asyncio.sleep(0.05)  # the lock stays held across the await
            tx.put("anthropic", entry | {"expires": entry["expires"] + 1})
            events.append(f"{name} out")

    await asyncio.gather(*(increment(f"task{n}") for n in range(3)))

    entry = store.get("anthropic")
    assert entry is not None and entry["expires"] == 3
    assert all(events[i].split()[0] == events[i + 1].split()[0] for i in range(0, len(events), 2))


async def test_async_lock_timeout_raises_store_lock_timeout(path: Path) -> None:
    holder = LockHolder(path)
    try:
        with pytest.raises(StoreLockTimeout):
            async with CredentialStore(path, lock_timeout=0.2).transaction():
                pass
    finally:
        holder.release()


async def test_task_cancelled_while_waiting_for_the_lock_never_keeps_it(store: CredentialStore) -> None:
    holder = store.transaction()
    holder.__enter__()

    async def wait_for_lock() -> None:
        async with store.transaction():
            pytest.fail("the cancelled task got into the block")

    waiter = asyncio.create_task(wait_for_lock())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    holder.__exit__(None, None, None)
    await asyncio.sleep(0.2)  # the abandoned worker thread notices and lets go

    with CredentialStore(store.path, lock_timeout=0.2).transaction():
        pass


async def test_task_cancelled_inside_the_block_releases_the_lock(store: CredentialStore) -> None:
    entered = asyncio.Event()

    async def hold() -> None:
        async with store.transaction():
            entered.set()
            await asyncio.sleep(30)

    holder = asyncio.create_task(hold())
    await entered.wait()
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder

    with CredentialStore(store.path, lock_timeout=0.2).transaction():
        pass


# --- crash safety --------------------------------------------------------------------------------


def test_on_step_reports_each_write_step_in_order(path: Path) -> None:
    steps: list[str] = []
    store = CredentialStore(path, on_step=steps.append)

    store.put("anthropic", login())
    assert steps == list(WRITE_STEPS)

    steps.clear()
    with store.transaction() as tx:
        tx.put("anthropic", login("2"))
        tx.delete("anthropic")
    assert steps == [WRITE_STEPS[0], *WRITE_STEPS[1:], *WRITE_STEPS[1:]]


@pytest.mark.parametrize("signal_name", ["KILL", "INT"])
@pytest.mark.parametrize("step", WRITE_STEPS)
def test_process_killed_at_any_write_step_leaves_the_old_or_the_new_file(
    path: Path, step: str, signal_name: str
) -> None:
    old = {"x-unknown": {"keep": True}, "anthropic": login("old")}
    new = {"x-unknown": {"keep": True}, "anthropic": login("new")}
    write_store(path, json.dumps(old, indent=2) + "\n")

    result = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            "write",
            str(path),
            "anthropic",
            json.dumps(login("new")),
            step,
            signal_name,
        ],
        capture_output=True,
        timeout=30,
    )

    expected_signal = signal.SIGKILL if signal_name == "KILL" else signal.SIGINT
    assert result.returncode in (-expected_signal, 1), result.stderr
    doc = CredentialStore(path).load()
    assert doc in (old, new)
    if step in ("renamed", "dir-fsynced"):
        assert doc == new
    if step in ("lock-acquired", "before-temp"):
        assert doc == old
    if signal_name == "INT":
        assert temp_files(path.parent) == []  # an interrupted writer cleans up after itself
    assert mode(path) == 0o600
    CredentialStore(path, lock_timeout=1.0).put("github-copilot", login("gh"))  # lock was dropped


def test_reader_never_sees_a_torn_file_while_another_process_writes(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("anthropic", login())

    def torn() -> None:
        raise AssertionError("a read saw a half-written file")

    monkeypatch.setattr(store_module, "_pause_for_other_writer", torn)
    writer = subprocess.Popen([sys.executable, str(WORKER), "churn", str(path), "150"])
    reads = 0
    try:
        while writer.poll() is None:
            entry = store.get("anthropic")
            assert entry is not None and entry["type"] == "oauth"
            reads += 1
    finally:
        writer.wait(60)
    assert writer.returncode == 0
    assert reads > 10


# --- import hygiene ------------------------------------------------------------------------------


def test_store_imports_only_the_standard_library() -> None:
    code = (
        "import sys, app.store\n"
        "heavy = [m for m in ('textual', 'httpx', 'filelock', 'asyncio') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert result.stdout.strip() == ""
