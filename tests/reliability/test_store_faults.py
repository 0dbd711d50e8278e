"""A damaged, unsafe or failing credential store, met by every command.

Each case sets up one fault, then runs ``pi-tui status``, ``pi-tui token anthropic``,
``pi-tui logout anthropic --yes`` and a finished login's write (``AuthService.save_login``) as
real processes. Every run must end with a sentence that names the file and says what to do, an
exit code that means something, and no traceback; and whatever pi-tui could not read is still
there byte for byte (a login may replace a damaged file only after copying it aside to
``oauth.json.corrupt-*``).

Exit codes (pinned in EXITS): ``status`` 3 whenever the store cannot be read, else 0; ``token``
3 for a store problem, 1 only when simply not logged in; ``logout`` 3; a login 0 when a damaged
file could be set aside, 3 when the file may not be touched at all (a symlink, a directory, a
FIFO, loose permissions, a stranger's file) or the write itself fails. The 26 cases are the keys
of CASES.

Faults that need the kernel to misbehave (ENOSPC, EIO, a read-only directory) are injected at
the OS-call boundary of app/store.py by tests/reliability/fault_runner.py. The suite runs as
root, where ``chmod 0500`` does not stop writes, so the read-only directory is EROFS (and EACCES,
what a non-root user gets) raised where the temp file is created.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import FakeProviders
from tests.processes import run_python
from tests.reliability.helpers import HOUR_MS, OTHERS, now_ms, write_doc

# The matrix runs once, in the module fixture `outcomes`: under pytest-xdist, on one worker.
pytestmark = pytest.mark.xdist_group("store-faults")
RUNNER = Path(__file__).with_name("fault_runner.py")
OPERATIONS = ("status", "token", "logout", "login")
TARGET = "elsewhere.json"  # a symlink's target, next to the agent directory


# Exit codes per kind of fault and operation (status, token, logout, login).
EXITS = {
    "none": {"status": 0, "token": 0, "logout": 0, "login": 0},
    "absent": {"status": 0, "token": 1, "logout": 0, "login": 0},
    # Nothing can be read, but a login may copy the file aside and start a new one.
    "damaged": {"status": 3, "token": 3, "logout": 3, "login": 0},
    # The file may not be used or replaced at all: the user has to act first.
    "unsafe": {"status": 3, "token": 3, "logout": 3, "login": 3},
    # Readable, but every write fails.
    "unwritable": {"status": 0, "token": 3, "logout": 3, "login": 3},
}
# Only Anthropic's entry is damaged: logging out of it removes it (the file is copied aside first).
ENTRY_DAMAGE = ("wrong-types", "entry-not-object")


@dataclass(frozen=True)
class Case:
    """One fault: how to make it, what kind it is, and the sentence that must explain it."""

    setup: Callable[[Path, dict[str, Any]], None]
    kind: str
    says: str = ""
    faults: tuple[str, ...] = ()


def valid_document(fake: FakeProviders, *, due: bool) -> dict[str, Any]:
    tokens = fake.anthropic.seed_login()
    expires = now_ms() - 1 if due else now_ms() + HOUR_MS
    return {
        "anthropic": {
            "type": "oauth",
            "refresh": tokens["refresh"],
            "access": tokens["access"],
            "expires": expires,
        },
        "github-copilot": {"type": "oauth", "refresh": "ghu_kept", "access": "tid=kept", "expires": expires},
        **OTHERS,
    }


def raw(data: bytes, mode: int = 0o600) -> Callable[[Path, dict[str, Any]], None]:
    def setup(path: Path, doc: dict[str, Any]) -> None:
        path.parent.mkdir(mode=0o700)
        path.write_bytes(data)
        path.chmod(mode)

    return setup


def good(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc)


def nothing(path: Path, doc: dict[str, Any]) -> None:
    """No file and no agent directory: a first run."""


def truncated(path: Path, doc: dict[str, Any]) -> None:
    data = write_doc(path, doc)
    path.write_bytes(data[: len(data) // 2])


def wrong_types(path: Path, doc: dict[str, Any]) -> None:
    anthropic = doc["anthropic"] | {"expires": "tomorrow", "access": 42}
    write_doc(path, doc | {"anthropic": anthropic})


def entry_not_object(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc | {"anthropic": "sk-ant-oat01-a-bare-token-string"})


def huge(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700)
    with open(path, "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: costs no disk
    path.chmod(0o600)


def loose_mode(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc)
    path.chmod(0o644)


def symlink_to_file(path: Path, doc: dict[str, Any]) -> None:
    # A link to a file of our own is followed (dotfile managers); one to another user's is not.
    write_doc(path.parent.parent / TARGET, doc)
    os.chown(path.parent.parent / TARGET, 65534, 65534)
    path.parent.mkdir(mode=0o700)
    path.symlink_to(path.parent.parent / TARGET)


def dangling_symlink(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700)
    path.symlink_to(path.parent.parent / TARGET)


def directory(path: Path, doc: dict[str, Any]) -> None:
    path.mkdir(parents=True)
    (path / "keep.txt").write_text("inside the directory")


def fifo(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700)
    os.mkfifo(path, 0o600)


def leftover_temp(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc)
    path.with_name(".oauth.json.0123456789abcdef.tmp").write_text('{"anthropic": {"type": "oa')


def lock_is_directory(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc)
    path.with_name("oauth.json.lock").mkdir()


def other_owner(path: Path, doc: dict[str, Any]) -> None:
    write_doc(path, doc)
    os.chown(path, 65534, 65534)


def agent_dir_is_a_file(path: Path, doc: dict[str, Any]) -> None:
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    path.parent.write_text("not a directory")


def write_fault(fault: str, reason: str) -> Case:
    return Case(good, "unwritable", f"Could not save {{path}}: {reason}", faults=(fault,))


CASES: dict[str, Case] = {
    "missing": Case(nothing, "absent"),
    "empty": Case(raw(b""), "damaged", "{path} is not valid JSON"),
    "truncated": Case(truncated, "damaged", "{path} is not valid JSON"),
    "invalid-json": Case(raw(b"this is not json {"), "damaged", "{path} is not valid JSON"),
    "not-utf8": Case(raw(b'{"anthropic": "\xff\xfe"}'), "damaged", "{path} is not UTF-8 text"),
    "json-array": Case(raw(b'[{"anthropic": {}}]\n'), "damaged", "{path} holds a JSON array, not an object"),
    "wrong-types": Case(wrong_types, "damaged", "The anthropic login in {path} is not in pi's format"),
    "entry-not-object": Case(
        entry_not_object, "damaged", "The anthropic login in {path} is not in pi's format"
    ),
    "huge": Case(huge, "damaged", "{path} is 16777217 bytes, more than the 16 MiB"),
    "nul-filled": Case(raw(b"\x00" * 4096), "damaged", "{path} contains NUL bytes"),
    "eio-read": Case(good, "damaged", "{path} cannot be read (Input/output error)", faults=("read:EIO",)),
    "mode-0644": Case(
        loose_mode, "unsafe", "{path} is readable by other users (mode 0644). Run: chmod 600 {path}"
    ),
    "symlink-to-file": Case(symlink_to_file, "unsafe", "{path} is a symbolic link to {root}/elsewhere.json"),
    "symlink-dangling": Case(
        dangling_symlink, "unsafe", "{path} is a symbolic link to {root}/elsewhere.json"
    ),
    "directory": Case(
        directory, "unsafe", "{path} is a directory, not a regular file. Move it out of the way"
    ),
    "fifo": Case(fifo, "unsafe", "{path} is a named pipe (FIFO), not a regular file"),
    "other-owner": Case(other_owner, "unsafe", "{path} belongs to another user (uid 65534)"),
    "agent-dir-is-a-file": Case(agent_dir_is_a_file, "unsafe", "{path}"),
    "lock-is-directory": Case(lock_is_directory, "unwritable", "{path}.lock is a directory, not a lock file"),
    "read-only-dir-erofs": write_fault("open:EROFS:.tmp", "the file system is read-only (EROFS)"),
    "read-only-dir-eacces": write_fault("open:EACCES:.tmp", "permission denied (EACCES)"),
    "enospc-write": write_fault("write:ENOSPC", "the disk is full (ENOSPC)"),
    "eio-write": write_fault("write:EIO", "an I/O error (EIO)"),
    "eio-fsync": write_fault("fsync:EIO", "an I/O error (EIO)"),
    "eio-rename": write_fault("replace:EIO", "an I/O error (EIO)"),
    "leftover-temp": Case(leftover_temp, "none"),
}


def command(operation: str, agent_dir: Path) -> list[str]:
    where = ["--agent-dir", str(agent_dir)]
    return {
        "status": ["cli", "status", *where],
        "token": ["cli", "token", "anthropic", *where],
        "logout": ["cli", "logout", "anthropic", "--yes", *where],
        "login": ["login", str(agent_dir)],
    }[operation]


def run(case: Case, operation: str, agent_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    faults = [arg for fault in case.faults for arg in ("--fail", fault)]
    # These cases are oauth.json's (auth.json's: tests/store/test_store_auth_json.py); without the
    # override an agent directory with no oauth.json in it would get a new auth.json.
    env = env | {"PI_TUI_STORE": "oauth.json"}
    return run_python(str(RUNNER), *faults, *command(operation, agent_dir), env=env)


def without_state(seen: dict[str, Any]) -> dict[str, Any]:
    """A :func:`snapshot` without pi-tui's state directory (tests/conftest.py puts it in tmp_path)."""
    return {name: what for name, what in seen.items() if name.split(os.sep)[0] != "pi-tui-state"}


def snapshot(root: Path) -> dict[str, Any]:
    """Every name under ``root`` with what it is: a file's digest, a link's target, a FIFO."""
    import hashlib

    seen: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            if name == "oauth.json.lock":
                continue  # a writer creates it; it holds nothing
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                seen[rel] = ("link", os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                seen[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(full.read_bytes()).hexdigest())
            else:
                seen[rel] = ("other", stat.S_IFMT(st.st_mode))
    return seen


def sentence(case: Case, path: Path) -> str:
    return case.says.format(path=path, root=path.parent.parent)


@dataclass
class Outcome:
    """One command run against one fault, with the tree under the agent dir's parent around it."""

    path: Path
    doc: dict[str, Any]
    result: subprocess.CompletedProcess[str]
    before: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    """Every case met by every command, run four processes at a time (each in its own tree)."""
    with FakeProviders() as fake:

        def one(job: tuple[str, str]) -> Outcome:
            case_id, operation = job
            case = CASES[case_id]
            path = tmp_path_factory.mktemp(f"{case_id}-{operation}") / "agent" / "oauth.json"
            doc = valid_document(fake, due=case.kind == "unwritable")
            case.setup(path, doc)
            before = snapshot(path.parent.parent)
            result = run(case, operation, path.parent, fake.env())
            return Outcome(path, doc, result, before, snapshot(path.parent.parent))

        jobs = [(case_id, operation) for case_id in CASES for operation in OPERATIONS]
        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(zip(jobs, pool.map(one, jobs), strict=True))


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case_id", list(CASES))
def test_store_fault_gets_a_sentence_an_exit_code_and_no_damage(
    outcomes: dict[tuple[str, str], Outcome], case_id: str, operation: str
) -> None:
    case, outcome = CASES[case_id], outcomes[case_id, operation]
    path, result = outcome.path, outcome.result

    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    removes_the_damage = operation == "logout" and case_id in ENTRY_DAMAGE
    assert result.returncode == (0 if removes_the_damage else EXITS[case.kind][operation]), output
    if operation == "status":
        if case.kind in ("damaged", "unsafe"):
            assert sentence(case, path) in result.stdout  # under each row it makes unreadable
    elif result.returncode != 0:
        assert result.stderr.startswith("pi-tui: ") and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""
        assert sentence(case, path) in result.stderr
    for secret in (outcome.doc["anthropic"]["access"], outcome.doc["anthropic"]["refresh"]):
        if result.returncode != 0 or operation != "token":
            assert secret not in output

    if case.kind in ("none", "absent") and result.returncode == 0:
        return  # nothing was unreadable; the command did its job
    if case.kind == "damaged" and operation == "login":
        assert_set_aside_then_replaced(outcome, case_id)
        return
    if removes_the_damage:
        assert_set_aside_then_removed(outcome)
        return
    assert outcome.after == outcome.before, "something pi-tui could not use was changed"


def assert_set_aside_then_replaced(outcome: Outcome, case_id: str) -> None:
    """The damaged file was kept byte for byte as oauth.json.corrupt-*, then a new one written."""
    path, doc, before, after = outcome.path, outcome.doc, outcome.before, outcome.after
    backups = [name for name in after if name.startswith("agent/oauth.json.corrupt-")]
    assert len(backups) == 1, after
    assert after[backups[0]][2] == before["agent/oauth.json"][2], "the copy aside is not the damaged file"
    stored = json.loads(path.read_bytes())
    assert stored["anthropic"]["access"] == "sk-ant-oat01-new-login-access"
    if case_id in ("wrong-types", "entry-not-object"):
        # Only Anthropic's entry was damaged: the other providers stay in the new file.
        assert {k: v for k, v in stored.items() if k != "anthropic"} == {
            k: v for k, v in doc.items() if k != "anthropic"
        }
    unchanged = {k: v for k, v in before.items() if k != "agent/oauth.json"}
    assert {k: v for k, v in after.items() if k not in ("agent/oauth.json", backups[0])} == unchanged


def assert_set_aside_then_removed(outcome: Outcome) -> None:
    """The file was kept byte for byte as oauth.json.corrupt-*, then written without the entry."""
    path, doc, before, after = outcome.path, outcome.doc, outcome.before, outcome.after
    backups = [name for name in after if name.startswith("agent/oauth.json.corrupt-")]
    assert len(backups) == 1, after
    assert after[backups[0]][2] == before["agent/oauth.json"][2], "the copy aside is not the damaged file"
    assert json.loads(path.read_bytes()) == {k: v for k, v in doc.items() if k != "anthropic"}


def test_refresh_whose_answer_cannot_be_saved_loses_a_rotating_login(
    tmp_path: Path, fake: FakeProviders
) -> None:
    """The save fails after the server rotated the refresh token: the old file is intact but dead.

    (A full disk shows before the request, and then none is sent: tests/store. Here the last
    step, the rename, fails.) Nothing can be written, so the login cannot be kept: the sentence
    says so and tells the user to log in again once the file can be saved, instead of "try
    again", which could not work.
    """
    path = tmp_path / "agent" / "oauth.json"
    doc = valid_document(fake, due=True)
    good(path, doc)
    before = path.read_bytes()

    result = run(CASES["eio-rename"], "token", path.parent, fake.env())

    assert result.returncode == 3
    assert "refresh token in the file is now used up" in result.stderr
    assert "log in again (pi-tui login anthropic)" in result.stderr
    assert "try again" not in result.stderr
    assert path.read_bytes() == before
    assert fake.count("anthropic.refresh") == 1
    assert not fake.anthropic.is_refresh_valid(doc["anthropic"]["refresh"])


# --- the full-screen app -------------------------------------------------------------------------

APP_CASES = ("invalid-json", "wrong-types", "mode-0644", "symlink-to-file", "directory", "fifo")


@pytest.mark.parametrize("case_id", APP_CASES)
async def test_full_screen_app_shows_the_store_problem_and_survives_every_key(
    tmp_path: Path, fake: FakeProviders, clock: Any, make_app: Any, case_id: str
) -> None:
    from app.service import AuthService
    from app.store import CredentialStore
    from tests.tui.helpers import card, flat, wait_for_screen

    case = CASES[case_id]
    path = tmp_path / "agent" / "oauth.json"
    case.setup(path, valid_document(fake, due=False))
    before = snapshot(tmp_path)
    app = make_app(AuthService(CredentialStore(path, lock_timeout=2.0), env=fake.env(), clock=clock))

    async with app.run_test(size=(100, 40)) as pilot:
        shown = " ".join(card(app, "anthropic").split())
        assert "State ● store unreadable" in shown
        assert f"Last error {sentence(case, path)}" in shown
        assert "Nothing is logged in yet" not in flat(app)
        for key in ("r", "t", "o", "question_mark", "escape"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        assert app.is_running
    # pi-tui's own state file (PI_TUI_STATE_DIR, here under tmp_path too) may note the logins it
    # could read (wrong-types spoils only Anthropic's entry): it is not the store.
    assert without_state(snapshot(tmp_path)) == without_state(before), (
        "the app changed a store it could not read"
    )


async def test_full_screen_login_over_a_damaged_store_keeps_a_copy_of_it(
    tmp_path: Path, fake: FakeProviders, clock: Any, make_app: Any
) -> None:
    from textual import events

    from app.service import AuthService
    from app.store import CredentialStore
    from tests.tui.helpers import card, choose_method, wait_for_screen, wait_until

    path = tmp_path / "agent" / "oauth.json"
    truncated(path, valid_document(fake, due=False))
    damaged = path.read_bytes()
    app = make_app(AuthService(CredentialStore(path, lock_timeout=2.0), env=fake.env(), clock=clock))

    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await choose_method(pilot, "copy_code")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await wait_until(pilot, lambda: app.screen.login is not None)
        code, state = fake.anthropic.authorize(app.screen.login.url)
        app.post_message(events.Paste(f"{code}#{state}"))
        await wait_for_screen(pilot, "LoginDoneScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        assert "State ● logged in" in card(app, "anthropic")

    backups = list(path.parent.glob("oauth.json.corrupt-*"))
    assert [b.read_bytes() for b in backups] == [damaged]
    assert fake.anthropic.is_access_valid(json.loads(path.read_bytes())["anthropic"]["access"])
