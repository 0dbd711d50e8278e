"""pi's credential document: safe read, parse, atomic write, a damaged copy set aside.

Shared by both formats (``auth.json`` and ``oauth.json``). Reads take no lock; a write renames
a complete, fsynced temp file into place, so a reader of a file pi-tui wrote sees the old
document or the new one, never a mix (pi itself writes in place; see ``read_document``).

Only the standard library is imported here: ``pi-tui token`` reads the store on every call.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import time
from pathlib import Path

from app.errors import StoreCorrupt, StoreUnsafe, StoreWriteError
from app.paths import others_can_write

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_BYTES = 16 * 1024 * 1024
STALE_TEMP_SECONDS = 60.0
TORN_READ_PAUSE_SECONDS = 0.05
WRITE_STEPS = (
    "lock-acquired",
    "before-temp",
    "temp-written",
    "before-fsync",
    "fsynced",
    "before-rename",
    "renamed",
    "dir-fsynced",
)
BOM = b"\xef\xbb\xbf"
OAUTH = "oauth"
API_KEY = "api_key"

# O_NONBLOCK: opening a FIFO put in the file's place must not hang; regular files ignore it.
SAFE_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_READ_CHUNK = 1 << 16


# --- which file --------------------------------------------------------------------------------


def real_path(path: Path) -> Path:
    """The file to read, lock and write for ``path``: itself, or its target when it is our link.

    A dotfile manager's link is followed when the link and its target both belong to us; the
    target then gets every check a plain store gets. Any other link is refused (StoreUnsafe).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as error:
        raise _unreadable(path, error) from error
    if not stat.S_ISLNK(st.st_mode):
        return path
    euid = os.geteuid()
    if st.st_uid != euid:
        raise StoreUnsafe(symlink_message(path, f"the link belongs to another user (uid {st.st_uid})"))
    target = Path(os.path.realpath(path))
    try:
        target_st = os.lstat(target)
    except FileNotFoundError:
        raise StoreUnsafe(symlink_message(path, "its target does not exist")) from None
    except OSError as error:
        raise _unreadable(target, error) from error
    if stat.S_ISREG(target_st.st_mode) and target_st.st_uid != euid:
        raise StoreUnsafe(
            symlink_message(path, f"its target belongs to another user (uid {target_st.st_uid})")
        )
    return target


# --- reading -----------------------------------------------------------------------------------


def read_document(path: Path, *, look_again: bool = True, name: Path | None = None) -> dict[str, Any] | None:
    """Parse the store; None when it does not exist. Raises StoreUnsafe or StoreCorrupt.

    ``look_again``: on a parse failure, pause and read once more before calling it corrupt
    (oauth.json, which old pi writes in place without a lock). For auth.json the caller
    retries under pi's lock instead, which is exact. ``name``: the path the user has, when
    ``path`` is the target of that link; sentences name it, and their commands act on it.
    """
    data = _read_bytes(path, name)
    if data is None:
        return None
    try:
        return _parse(path, data, name)
    except StoreCorrupt:
        if not look_again:
            raise
        # pi writes oauth.json in place (truncate, then write), so a read can land inside one of
        # its writes. A second look a moment later tells a torn read from a damaged file.
        _pause_for_other_writer()
        again = _read_bytes(path, name)
        if again is None:
            return None
        if again == data:
            raise
        return _parse(path, again, name)


def _pause_for_other_writer() -> None:
    time.sleep(TORN_READ_PAUSE_SECONDS)


def _read_bytes(path: Path, name: Path | None = None) -> bytes | None:
    """Return the file's bytes after the safety checks; None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _unreadable(path, error, name) from error
    _check_safe(path, st, name)
    _check_size(path, st.st_size, name)
    try:
        fd = os.open(path, os.O_RDONLY | SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # became a symlink since the lstat
            raise StoreUnsafe(symlink_message(path)) from error
        raise _unreadable(path, error, name) from error
    try:
        st = os.fstat(fd)
        _check_safe(path, st, name)
        _check_size(path, st.st_size, name)
        return _read_all(fd)
    except OSError as error:
        raise _unreadable(path, error, name) from error
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_BYTES:
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _parse(path: Path, data: bytes, name: Path | None = None) -> dict[str, Any]:
    """Decode the store's bytes into its document, or raise StoreCorrupt saying why not."""
    _check_size(path, len(data), name)
    label = _label(path, name)
    if data.startswith(BOM):
        data = data[len(BOM) :]  # pi strips it too; an editor on Windows may have added it
    if b"\x00" in data:
        raise StoreCorrupt(f"{label} contains NUL bytes, so it is not JSON text. {_kept(path)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # `from None` throughout: these errors carry the whole document, tokens included.
        raise StoreCorrupt(
            f"{label} is not UTF-8 text (bad byte at offset {error.start}). {_kept(path)}"
        ) from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise StoreCorrupt(f"{label} is not valid JSON ({error.msg} at {where}). {_kept(path)}") from None
    except ValueError:
        raise StoreCorrupt(
            f"{label} uses NaN or Infinity, which JSON does not allow. {_kept(path)}"
        ) from None
    except RecursionError:
        raise StoreCorrupt(
            f"{label} is nested too deeply to be pi's credential file. {_kept(path)}"
        ) from None
    if not isinstance(doc, dict):
        kind = _json_kind(doc)
        raise StoreCorrupt(f"{label} holds a JSON {kind}, not an object keyed by provider. {_kept(path)}")
    return doc


def _kept(path: Path) -> str:
    return (
        "It is kept as it is: fix it by hand, or log in again and pi-tui will copy it aside "
        f"({path.name}.corrupt-<date>-<time>) and start a new file."
    )


def _reject_constant(name: str) -> None:
    raise ValueError(name)


class Verbatim(float):
    """A JSON number no float can hold (``1e400``, an integer of thousands of digits).

    Its value is the nearest float (``±inf`` when out of range), so checks see it as the
    number it is; :func:`serialise` writes back ``text``, exactly as the file spelled it.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Verbatim:
        number = super().__new__(cls, float(text))
        number.text = text
        return number


def _float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else Verbatim(text)


def _int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return Verbatim(text)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None or isinstance(value, bool):
        return "literal"
    return "number"


def _label(path: Path, name: Path | None) -> str:
    """How a sentence names the file: the path the user has, and the link's target if it is one."""
    return str(path) if name is None or name == path else f"{name} (a link to {path})"


def _check_size(path: Path, size: int, name: Path | None = None) -> None:
    if size > MAX_BYTES:
        raise StoreCorrupt(
            f"{_label(path, name)} is {size} bytes, more than the {MAX_BYTES // (1024 * 1024)} MiB a "
            f"credential file can be. {_kept(path)}"
        )


def _unreadable(path: Path, error: OSError, name: Path | None = None) -> StoreCorrupt:
    if error.errno == errno.ENOTDIR:
        # A file where the agent directory should be: a mistake in the path, not in the disk.
        blocker = next((p for p in path.parents if os.path.isfile(p)), path.parent)
        return StoreCorrupt(
            f"{path} cannot be used: {blocker} is a file, not a directory. Point --agent-dir "
            "(or $PI_CODING_AGENT_DIR) at pi's agent directory, e.g. ~/.pi/agent."
        )
    return StoreCorrupt(
        f"{_label(path, name)} cannot be read ({error.strerror}). It is kept as it is; check the "
        f"disk and the file's permissions (ls -lL {quote(name or path)})."
    )


# --- validation --------------------------------------------------------------------------------


def valid_entry(path: Path, doc: dict[str, Any], provider: str) -> dict[str, Any] | None:
    """``provider``'s entry (OAuth or API key) or None; StoreCorrupt names what pi can't use."""
    if provider not in doc:
        return None
    entry = doc[provider]
    problem = entry_problem(entry)
    if problem is not None:
        raise StoreCorrupt(
            f"The {provider} login in {path} is not in pi's format ({problem}). It is kept as "
            f"it is and the other logins still work; log in to {provider} again to replace it."
        )
    valid: dict[str, Any] = entry
    return valid


def entry_problem(entry: object) -> str | None:
    """Say what keeps ``entry`` from being a pi credential (never quoting its values)."""
    if not isinstance(entry, dict):
        return "it is not a JSON object"
    kind = entry.get("type")
    if kind == API_KEY:
        return None if isinstance(entry.get("key"), str) else '"key" is missing or not a string'
    if kind != OAUTH:
        return '"type" is neither "oauth" nor "api_key"'
    for key in ("access", "refresh"):
        if not isinstance(entry.get(key), str):
            return f'"{key}" is missing or not a string'
    expires = entry.get("expires")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(expires):
        return '"expires" is missing or not a finite number'
    return None


def check_storable(provider: str, entry: dict[str, Any]) -> None:
    """Raise ValueError (a caller's bug, before any file is touched) for an entry pi can't use."""
    problem = entry_problem(entry)
    if problem is None:
        try:
            serialise(entry)
        except (TypeError, ValueError) as error:
            problem = f"it is not plain JSON ({error})"
    if problem is not None:
        raise ValueError(f"Refusing to store the {provider} login: {problem}.")


def check_provider(provider: object) -> None:
    """Raise ValueError unless ``provider`` is a non-empty string (a caller's bug)."""
    if not isinstance(provider, str) or not provider:
        raise ValueError("A provider id must be a non-empty string.")


def _check_safe(path: Path, st: os.stat_result, name: Path | None = None) -> None:
    """Raise StoreUnsafe unless ``st`` is a regular file of ours that nobody else can use."""
    check_kind_and_owner(path, st, name)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise StoreUnsafe(
            f"{_label(path, name)} is {_exposure(mode)} by other users (mode {mode:04o}). "
            f"Run: chmod 600 {quote(name or path)}"
        )


def check_kind_and_owner(path: Path, st: os.stat_result, name: Path | None = None) -> None:
    """Raise StoreUnsafe unless ``st`` is a regular file of ours (``name``: see read_document)."""
    if stat.S_ISLNK(st.st_mode):
        raise StoreUnsafe(symlink_message(path))
    shown = name or path
    if not stat.S_ISREG(st.st_mode):
        raise StoreUnsafe(
            f"{_label(path, name)} is {_file_kind(st.st_mode)}, not a regular file. Move it out of "
            f"the way (mv {quote(shown)} {quote(str(shown) + '.moved')}) so pi-tui can create the file."
        )
    euid = os.geteuid()
    if st.st_uid != euid:
        raise StoreUnsafe(
            f"{_label(path, name)} belongs to another user (uid {st.st_uid}), not to you (uid {euid}). "
            f"If it is yours, run: sudo chown {euid} {quote(shown)}"
        )


def symlink_message(path: Path, why: str = "it changed while pi-tui was using it") -> str:
    try:
        target = f" to {os.readlink(path)}"
    except OSError:
        target = ""
    return (
        f"{path} is a symbolic link{target}, and pi-tui follows a link to credentials only when "
        f"the link and its target are yours: {why}. Replace the link with the file itself (or "
        f"remove it: rm {quote(path)})."
    )


def _exposure(mode: int) -> str:
    readable, writable = bool(mode & 0o044), bool(mode & 0o022)
    if readable and writable:
        return "readable and writable"
    if readable:
        return "readable"
    if writable:
        return "writable"
    return "usable"


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def quote(path: Path | str) -> str:
    """``path`` quoted for a shell command in a fix-it sentence."""
    import shlex  # only error messages need it

    return shlex.quote(str(path))


# --- writing -----------------------------------------------------------------------------------


def serialise(doc: dict[str, Any]) -> bytes:
    """The bytes pi-tui writes for ``doc``: two-space JSON, ASCII, a final newline.

    A :class:`Verbatim` number is written as the file spelled it. ValueError for a value JSON
    cannot hold (NaN, an infinity that was not read from the file), TypeError for a non-JSON type.
    """
    kept: list[str] = []
    marker = f"\x00{os.urandom(8).hex()}:"

    def mark(value: Any) -> Any:
        if isinstance(value, Verbatim):
            kept.append(value.text)
            return f"{marker}{len(kept) - 1}"
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(doc), indent=2, allow_nan=False)
    for index, number in enumerate(kept):
        text = text.replace(json.dumps(f"{marker}{index}"), number, 1)
    return (text + "\n").encode("ascii")


class Reservation:
    """A temp file beside the store, already as large as the write that is to fill it.

    Made before an action that cannot be undone (a refresh spends the refresh token), so that
    a full disk, a used-up quota or a file-size limit shows before it, not after.
    """

    def __init__(self, temp: Path, fd: int) -> None:
        self.temp = temp
        self.fd: int | None = fd

    def discard(self) -> None:
        """Close and delete the temp file (the write did not happen)."""
        fd, self.fd = self.fd, None
        _discard_temp(fd, self.temp)


def reserve(path: Path, size: int) -> Reservation:
    """Make and fsync a temp file of ``size`` bytes beside ``path``; StoreWriteError if there is no room."""
    temp = _temp_name(path)
    fd: int | None = None
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_OPEN, 0o600)
        os.fchmod(fd, 0o600)
        _write_all(fd, b" " * size)
        os.fsync(fd)
    except OSError as error:
        _discard_temp(fd, temp if fd is not None else None)
        raise write_error(path, error) from error
    return Reservation(temp, fd)


def _temp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.urandom(8).hex()}.tmp"


def replace_file(
    path: Path, data: bytes, step: Callable[[str], None], reserved: Reservation | None = None
) -> None:
    """Atomically make ``data`` the content of ``path``: temp file, fsync, rename, fsync dir.

    ``reserved``: the temp file to write into (see :func:`reserve`); it is used up either way.
    """
    directory = path.parent
    step("before-temp")
    temp = _temp_name(path) if reserved is None else reserved.temp
    fd: int | None = None
    created = renamed = False
    try:
        if reserved is not None and reserved.fd is not None:
            fd, reserved.fd = reserved.fd, None
            created = True
            os.lseek(fd, 0, os.SEEK_SET)
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
        else:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_OPEN, 0o600)
            created = True
            os.fchmod(fd, 0o600)  # the umask may have taken bits away; it cannot have added any
            _write_all(fd, data)
        step("temp-written")
        step("before-fsync")
        os.fsync(fd)
        step("fsynced")
        os.close(fd)
        fd = None
        step("before-rename")
        os.replace(temp, path)
        renamed = True
        step("renamed")
    except BaseException as error:
        _discard_temp(fd, temp if created and not renamed else None)
        if isinstance(error, OSError):
            raise write_error(path, error) from error
        raise
    _fsync_dir(directory)
    step("dir-fsynced")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _discard_temp(fd: int | None, temp: Path | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    if temp is not None:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        # The rename is done and every process already sees the new file; only its survival of
        # a power cut is in doubt. Failing now would tell the caller the old file is still there.
        pass


def write_error(path: Path, error: OSError, action: str = "save") -> StoreWriteError:
    """The sentence for an ``OSError`` while writing ``path``: why, and that the old file stands."""
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EIO: "an I/O error",
        errno.EFBIG: "the file size limit is reached (ulimit -f)",
    }
    reason = reasons.get(error.errno or 0, error.strerror or "an unexpected error")
    code = errno.errorcode.get(error.errno or 0, "?")
    return StoreWriteError(
        f"Could not save {path}: {reason} ({code}). The old file is unchanged; fix that and try again.",
        reason=f"{reason} ({code})",
    )


def remove_stale_temps(path: Path) -> None:
    """Delete temp files that a crashed writer left behind more than a minute ago."""
    prefix, cutoff = f".{path.name}.", time.time() - STALE_TEMP_SECONDS
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        candidate = path.parent / name
        try:
            st = os.lstat(candidate)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mtime < cutoff:
                os.unlink(candidate)
        except OSError:
            continue


def set_aside(path: Path) -> Path:
    """Keep a damaged store as ``<name>.corrupt-YYYYMMDD-HHMMSS[-N]`` (0600); return it."""
    base = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1000):
        backup = path.with_name(base if attempt == 0 else f"{base}-{attempt}")
        try:
            _copy_exclusive(path, backup)
        except FileExistsError:
            continue
        except OSError as error:
            raise StoreWriteError(
                f"{path} is damaged and could not be copied aside ({error.strerror}), so it was "
                f"not replaced. Move it away yourself (mv {quote(path)} {quote(backup)}) and "
                f"try again."
            ) from error
        return backup
    raise StoreWriteError(f"Too many copies of {path} are already set aside; remove some.")


def _copy_exclusive(path: Path, backup: Path) -> None:
    """Make ``backup`` hold ``path``'s bytes; FileExistsError if ``backup`` already exists."""
    try:
        # A hard link keeps the exact bytes even of a file we cannot read, in one atomic step;
        # the rename that follows moves only the name "oauth.json" to the new file.
        os.link(path, backup, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        _copy_bytes(path, backup)  # e.g. a file system without hard links
    os.chmod(backup, 0o600)


def _copy_bytes(path: Path, backup: Path) -> None:
    source = os.open(path, os.O_RDONLY | SAFE_OPEN)
    try:
        target = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_OPEN, 0o600)
        try:
            while chunk := os.read(source, _READ_CHUNK):
                _write_all(target, chunk)
            os.fsync(target)
        except BaseException:
            os.close(target)
            os.unlink(backup)
            raise
        os.close(target)
    finally:
        os.close(source)


def check_private_dir(directory: Path) -> None:
    """StoreUnsafe when other users can change ``directory``, where a write makes its files."""
    refusal = others_can_write(directory, "write credentials")
    if refusal is not None:
        raise StoreUnsafe(refusal)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents as 0700; an existing one keeps its mode."""
    missing: list[Path] = []
    current = directory
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        except OSError as error:
            raise write_error(folder, error, "create") from error
        try:
            os.chmod(folder, 0o700)  # the umask may have taken the owner's bits
        except OSError as error:
            raise write_error(folder, error, "create") from error
