"""pi-tui's own memory about logins: account names, refresh history, the last failure.

pi replaces a whole entry of its credential file whenever it refreshes, so nothing pi-tui wants
to remember about a login may live there. It lives here instead: one small JSON file in the
platform's state directory (``$PI_TUI_STATE_DIR`` wins, for tests), 0600, keyed by the
credential file's real path and then by provider id. It never holds a token.

Writes are read-modify-write with an atomic replace and no lock: two processes recording at
the same instant can lose one of the two notes, which costs a line of history, never a login.
No link is followed, and nothing is written in a directory other users can change
(:meth:`StateFile.check` says so before a login, a refresh or a logout).
Only the standard library is imported here (``platformdirs`` on first use of the default path).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from app.errors import ConfigError
from app.paths import others_can_write

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

STATE_NAME = "state.json"
VERSION = 1

# Who refreshed a token, as the status panel words it.
BY_APP = "pi-tui"
BY_TOKEN = "pi-tui token"
BY_LIBRARY = "pi-tui library"
BY_OTHER = "another process"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """pi-tui's state directory (not created here); ``$PI_TUI_STATE_DIR`` wins."""
    env = os.environ if env is None else env
    if env.get("PI_TUI_STATE_DIR"):
        return Path(os.path.expanduser(env["PI_TUI_STATE_DIR"]))
    if sys.platform.startswith("linux"):
        # platformdirs' answer on Linux, without its imports (tempfile, shutil, bz2, lzma…):
        # `pi-tui status` reads the account names from here on every call.
        base = env.get("XDG_STATE_HOME", "").strip() or os.path.expanduser("~/.local/state")
        return Path(base) / "pi-tui"
    import platformdirs  # only when the default is needed

    return Path(platformdirs.user_state_dir("pi-tui", appauthor=False))


class StateFile:
    """What pi-tui remembers per (credential file, provider). Never a secret."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> StateFile:
        """The state file in :func:`state_dir`."""
        return cls(state_dir(env) / STATE_NAME)

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    def problem(self) -> str | None:
        """Why pi-tui must not write this file (a directory others can change, a link), or None."""
        refusal = others_can_write(self.path.parent, "write its state file")
        if refusal is not None:
            return refusal
        try:
            st = os.lstat(self.path)
        except OSError:
            return None
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            return None
        import shlex  # only this sentence needs it: `pi-tui status` and `token` load this module

        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a plain file of yours"
        return (
            f"pi-tui's state file {self.path} is {kind}, and pi-tui does not write through it. "
            f"Remove it (rm {shlex.quote(str(self.path))}); pi-tui makes a new one."
        )

    def check(self) -> None:
        """ConfigError with the sentence of :meth:`problem`, if there is one."""
        problem = self.problem()
        if problem is not None:
            raise ConfigError(problem)

    def get(self, store_path: Path, provider: str) -> dict[str, Any]:
        """What is remembered about ``provider`` in the credential file ``store_path`` ({} if nothing)."""
        found = self._load().get("stores", {}).get(_key(store_path), {}).get(provider)
        return dict(found) if isinstance(found, dict) else {}

    def update(self, store_path: Path, provider: str, **fields: Any) -> None:
        """Merge ``fields`` into what is remembered; a field given as None is forgotten.

        A state file that cannot be written is not an error worth a user's attention: the
        login itself is in pi's file. The failure is swallowed.
        """
        doc = self._load()
        stores = doc.setdefault("stores", {})
        record = stores.setdefault(_key(store_path), {}).setdefault(provider, {})
        for name, value in fields.items():
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        if not record:
            stores[_key(store_path)].pop(provider, None)
        self._save(doc, keep=_key(store_path))

    def forget(self, store_path: Path, provider: str) -> None:
        """Forget everything about ``provider`` in ``store_path`` (after a logout)."""
        doc = self._load()
        if doc.get("stores", {}).get(_key(store_path), {}).pop(provider, None) is not None:
            self._save(doc, keep=_key(store_path))

    def _load(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {"version": VERSION, "stores": {}}
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                return {"version": VERSION, "stores": {}}  # not ours: its notes are not trusted
            doc = json.loads(os.read(fd, 1 << 20) or b"{}")
        except (OSError, ValueError):
            return {"version": VERSION, "stores": {}}
        finally:
            os.close(fd)
        if not isinstance(doc, dict) or not isinstance(doc.get("stores"), dict):
            return {"version": VERSION, "stores": {}}
        return doc

    def _save(self, doc: dict[str, Any], *, keep: str) -> None:
        """Write ``doc``, without the records of credential files that are gone (but ``keep``'s).

        Every start reads this file, so it must not grow with each agent directory ever used.
        """
        doc["version"] = VERSION
        stores = doc["stores"]
        for gone in [key for key in stores if key != keep and not os.path.lexists(key)]:
            del stores[gone]
        if self.problem() is not None:
            return  # said before the action that wanted the note (check); a note is not worth a risk
        temp = self.path.with_name(f".{self.path.name}.{os.urandom(8).hex()}.tmp")
        created = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temp, flags, 0o600)
            created = True
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=2, sort_keys=True)
            os.replace(temp, self.path)
        except OSError:
            if created:
                temp.unlink(missing_ok=True)


def _key(store_path: Path) -> str:
    return os.path.realpath(store_path)
