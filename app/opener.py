"""Open a link in a graphical browser, and only where one can appear.

Rules: a ``$BROWSER`` the user set is used, SSH or not (except console browsers); without it,
never over SSH, never a console browser (lynx, w3m, links…) that would take over the
terminal the app is drawing on, and on Linux only with ``DISPLAY`` or ``WAYLAND_DISPLAY``.
A browser's own output goes to /dev/null so it cannot scribble over the screen.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

CONSOLE_BROWSERS = frozenset(
    {"www-browser", "links", "links2", "elinks", "lynx", "w3m", "browsh", "carbonyl", "netrik"}
)


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


def spawn(argv: list[str]) -> None:
    """Start a browser detached from our terminal; OSError if it cannot be started."""
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )


def system_open(url: str) -> bool:
    """Open ``url`` with Python's ``webbrowser`` if its choice is a graphical browser."""
    import webbrowser

    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(controller, webbrowser.BackgroundBrowser):
        spawn([controller.name, *(arg.replace("%s", url) for arg in controller.args)])
        return True
    console = os.path.basename(getattr(controller, "name", "")) in CONSOLE_BROWSERS
    if console or type(controller) is webbrowser.GenericBrowser:
        return False
    if isinstance(controller, webbrowser.UnixBrowser) and not controller.background:
        return False
    return bool(controller.open(url))


def open_url(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    start: Callable[[list[str]], None] = spawn,
    system: Callable[[str], bool] = system_open,
) -> Opened:
    """Open ``url`` in a graphical browser if there is one; say what happened either way."""
    env = os.environ if env is None else env
    user_choice = [e for e in env.get("BROWSER", "").split(os.pathsep) if e.strip()]
    if user_choice:
        usable = [e for e in user_choice if not is_console_browser(e)]
        for entry in usable:
            try:
                start(command_line(entry, url))
            except (OSError, ValueError):
                continue
            return Opened(True, "Opened the link in your browser ($BROWSER).")
        if not usable:
            return Opened(False, "$BROWSER names a console browser; open the link yourself.")
        return Opened(False, "Could not start $BROWSER; open the link yourself.")
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return Opened(False, "Not opening a browser over SSH; open the link on your own computer.")
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return Opened(False, "No graphical browser here (no DISPLAY); open the link yourself.")
    try:
        opened = system(url)
    except OSError:
        opened = False
    if opened:
        return Opened(True, "Opened the link in your browser.")
    return Opened(False, "No graphical browser found; open the link yourself.")
