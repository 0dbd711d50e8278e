"""Open a link in a graphical browser, and only where one can appear.

Rules: a ``$BROWSER`` the user set is used, SSH or not (except console browsers); without it,
never over SSH, never a console browser (lynx, w3m, links…) that would take over the
terminal the app is drawing on, and on Linux only with ``DISPLAY`` or ``WAYLAND_DISPLAY``.
A browser's own output goes to /dev/null so it cannot scribble over the screen.

The link itself never goes on the browser's command line, which every user of the machine can
read (``/proc/PID/cmdline``): a login link carries its ``state`` and PKCE challenge, enough for
another user to finish the login with their own account. The browser gets a private page
instead (0600, in a 0700 directory of pi-tui's) that sends it on to the link;
:func:`discard_pages` removes it when the login ends. On WSL the browser is Windows' and cannot
read that page, so there the link goes on the command line, and the sentence says so.
"""

from __future__ import annotations

import atexit
import contextlib
import html
import json
import os
import secrets
import shlex
import stat
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.state import state_dir

CONSOLE_BROWSERS = frozenset(
    {"www-browser", "links", "links2", "elinks", "lynx", "w3m", "browsh", "carbonyl", "netrik"}
)
# How long a started opener may take to say (by its exit status) whether it worked.
SETTLE_S = 1.0
# Pages older than this, left by a pi-tui that did not end cleanly, are removed on the next open.
_STALE_PAGE_S = 24 * 3600
_PAGE_PREFIX = "login-"

# An http-equiv refresh, and a script for browsers that ignore it; no referrer for the provider's page.
_REDIRECT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url={attr}">
<title>pi-tui login</title>
<script>location.replace({js});</script></head>
<body style="font-family: system-ui, sans-serif; margin: 4em auto; max-width: 36em">
<p>Opening the login page… <a href="{attr}">Continue</a></p></body></html>
"""

_pages_lock = threading.Lock()
_pages: dict[str, list[Path]] = {}


@dataclass(frozen=True)
class Opened:
    """What happened when we tried to open a link: a flag and the sentence to show."""

    ok: bool
    message: str


def is_console_browser(command: str) -> bool:
    """True when ``command`` (a $BROWSER entry or a program name) is a text-mode browser."""
    words = shlex.split(command) if command.strip() else [""]
    return os.path.basename(words[0]) in CONSOLE_BROWSERS


def command_line(entry: str, url: str) -> list[str]:
    """The argv for one ``$BROWSER`` entry: ``%s`` is replaced by the URL, else it is appended."""
    words = shlex.split(entry)
    if any("%s" in word for word in words):
        return [word.replace("%s", url) for word in words]
    return [*words, url]


def spawn(argv: list[str], *, settle: float = SETTLE_S) -> bool | None:
    """Start a browser detached from our terminal; OSError if it cannot be started.

    True if it exited successfully within ``settle`` seconds, False if it failed (e.g. a stale
    ``DISPLAY``), None if it is still running (then nobody knows yet whether it worked).
    """
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=settle) == 0
    except subprocess.TimeoutExpired:
        threading.Thread(target=proc.wait, daemon=True, name="browser-reaper").start()
        return None


def system_open(url: str) -> bool | None:
    """Open ``url`` with Python's ``webbrowser`` if its choice is a graphical browser.

    True: it worked; False: no such browser, or it failed; None: started, outcome unknown.
    """
    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(controller, webbrowser.BackgroundBrowser):
        return spawn([controller.name, *(arg.replace("%s", url) for arg in controller.args)])
    console = os.path.basename(getattr(controller, "name", "")) in CONSOLE_BROWSERS
    if console or type(controller) is webbrowser.GenericBrowser:
        return False
    if isinstance(controller, webbrowser.UnixBrowser):
        if not controller.background:
            return False
        # True only says the browser process started (or its remote call did not fail).
        return None if controller.open(url) else False
    return bool(controller.open(url))


def is_wsl(env: Mapping[str, str]) -> bool:
    """True inside WSL, where the browser is a Windows program that cannot read our files."""
    if env.get("WSL_DISTRO_NAME"):
        return True
    try:
        with open("/proc/version", encoding="utf-8", errors="replace") as version:
            return "microsoft" in version.read().lower()
    except OSError:
        return False


def pages_dir(env: Mapping[str, str]) -> Path:
    """Where the redirect pages go: ``links`` in pi-tui's state directory (not created here)."""
    return state_dir(env) / "links"


def write_page(url: str, env: Mapping[str, str], *, now: float | None = None) -> Path:
    """A new private page that sends a browser on to ``url``; OSError if it cannot be made safely.

    The directory is pi-tui's own (0700, owned by this user, not a symlink); the page is created
    0600 with ``O_EXCL|O_NOFOLLOW``, so nothing prepared by another user is written through.
    """
    folder = pages_dir(env)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow)
    try:
        info = os.fstat(dir_fd)
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise PermissionError(f"{folder} belongs to another user")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(dir_fd, 0o700)
        _remove_stale(dir_fd, time.time() if now is None else now)
        name = f"{_PAGE_PREFIX}{secrets.token_hex(12)}.html"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o600, dir_fd=dir_fd)
        with os.fdopen(fd, "w", encoding="utf-8") as page:
            os.fchmod(page.fileno(), 0o600)  # whatever the umask
            page.write(redirect_page(url))
    finally:
        os.close(dir_fd)
    path = folder / name
    with _pages_lock:
        if not _pages:
            atexit.register(discard_all_pages)
        _pages.setdefault(url, []).append(path)
    return path


def redirect_page(url: str) -> str:
    """The HTML that sends a browser on to ``url`` (an http-equiv refresh, and a script)."""
    script_value = json.dumps(url).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _REDIRECT_PAGE.format(attr=html.escape(url, quote=True), js=script_value)


def _remove_stale(dir_fd: int, now: float) -> None:
    for name in os.listdir(dir_fd):
        if not (name.startswith(_PAGE_PREFIX) and name.endswith(".html")):
            continue
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if now - info.st_mtime > _STALE_PAGE_S:
                os.unlink(name, dir_fd=dir_fd)
        except OSError:
            continue


def discard_pages(url: str) -> None:
    """Remove the pages written for ``url`` (the login it belongs to has ended)."""
    with _pages_lock:
        paths = _pages.pop(url, [])
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def discard_all_pages() -> None:
    """Remove every page this process wrote (at exit)."""
    with _pages_lock:
        urls = list(_pages)
    for url in urls:
        discard_pages(url)


def open_url(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    start: Callable[[list[str]], bool | None] = spawn,
    system: Callable[[str], bool | None] = system_open,
    wsl: bool | None = None,
) -> Opened:
    """Open ``url`` in a graphical browser if there is one; say what happened either way.

    The browser is handed a private page that leads to ``url`` (see the module's docstring);
    ``start`` and ``system`` get that page's ``file://`` address, ``url`` itself only on WSL.
    """
    env = os.environ if env is None else env
    user_choice = [e for e in env.get("BROWSER", "").split(os.pathsep) if e.strip()]
    if user_choice:
        usable = [e for e in user_choice if not is_console_browser(e)]
        if not usable:
            return Opened(False, "$BROWSER names a console browser; open the link yourself.")
        target, note = _target(url, env, platform, wsl)
        if target is None:
            return Opened(False, note)
        failed = False
        for entry in usable:
            try:
                outcome = start(command_line(entry, target))
            except (OSError, ValueError):
                continue
            if outcome is False:
                failed = True
                continue
            return _said(outcome, " ($BROWSER)", note)
        discard_pages(url)
        if failed:
            return Opened(False, "$BROWSER failed to open the link; open the link yourself." + note)
        return Opened(False, "Could not start $BROWSER; open the link yourself.")
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return Opened(False, "Not opening a browser over SSH; open the link on your own computer.")
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return Opened(False, "No graphical browser here (no DISPLAY); open the link yourself.")
    target, note = _target(url, env, platform, wsl)
    if target is None:
        return Opened(False, note)
    try:
        outcome = system(target)
    except OSError:
        outcome = False
    if outcome is False:
        discard_pages(url)
        return Opened(False, "No graphical browser opened the link; open the link yourself." + note)
    return _said(outcome, "", note)


def _target(url: str, env: Mapping[str, str], platform: str, wsl: bool | None) -> tuple[str | None, str]:
    """What to hand the browser, and what to add to the sentence; (None, why) if nothing is safe."""
    if (is_wsl(env) if wsl is None else wsl) and platform.startswith("linux"):
        return url, " On WSL the link went on the browser's command line, where other users here can read it."
    try:
        return write_page(url, env).as_uri(), ""
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, f"Could not write the page that opens the link ({reason}); open the link yourself."


def _said(outcome: bool | None, which: str, note: str) -> Opened:
    if outcome:
        return Opened(True, f"Opened the link in your browser{which}.{note}")
    tried = f"Tried to open the link in your browser{which}; if nothing opened, open it yourself."
    return Opened(True, tried + note)
