"""The app's helpers outside Textual: browser opener, clipboard, log masking."""

from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import clipboard
from app.logs import MaskSecretsFilter, setup_logging
from app.mask import mask_secrets
from app.opener import command_line, is_console_browser, open_url

URL = "https://claude.ai/oauth/authorize?code=true&state=abc"


class Recorder:
    def __init__(self, system_result: bool = True) -> None:
        self.started: list[list[str]] = []
        self.system_calls: list[str] = []
        self.system_result = system_result

    def start(self, argv: list[str]) -> None:
        self.started.append(argv)

    def system(self, url: str) -> bool:
        self.system_calls.append(url)
        return self.system_result


def run(env: dict[str, str], platform: str = "linux", system_result: bool = True) -> tuple[object, Recorder]:
    recorder = Recorder(system_result)
    # The page that leads the browser to the link goes to the test's own state directory.
    env = {"PI_TUI_STATE_DIR": os.environ["PI_TUI_STATE_DIR"], **env}
    opened = open_url(
        URL, env=env, platform=platform, start=recorder.start, system=recorder.system, wsl=False
    )
    return opened, recorder


def page(address: str) -> str:
    """The link a browser is sent on to by the page at ``address`` (a ``file://`` URL)."""
    assert address.startswith("file://") and URL not in address
    text = Path(urlsplit(address).path).read_text()
    link = re.search(r'content="0;url=([^"]*)"', text)
    assert link is not None
    return html.unescape(link.group(1))


def test_user_browser_is_used_even_over_ssh():
    opened, rec = run({"BROWSER": "firefox --new-tab %s", "SSH_CONNECTION": "1 2 3 4"})
    assert opened.ok and "$BROWSER" in opened.message
    ((*argv, address),) = rec.started
    assert argv == ["firefox", "--new-tab"] and page(address) == URL and rec.system_calls == []


def test_user_browser_gets_the_url_appended_without_placeholder():
    assert command_line("open -a Safari", URL) == ["open", "-a", "Safari", URL]


def test_console_browser_in_browser_variable_is_skipped_for_the_next_entry():
    opened, rec = run({"BROWSER": "w3m:chromium"})
    assert opened.ok and [argv[0] for argv in rec.started] == ["chromium"]
    assert page(rec.started[0][1]) == URL


def test_only_console_browsers_are_never_started():
    opened, rec = run({"BROWSER": "lynx", "DISPLAY": ":0"})
    assert not opened.ok and rec.started == [] and rec.system_calls == []
    assert "console browser" in opened.message


@pytest.mark.parametrize("name", ["lynx", "/usr/bin/w3m", "links", "www-browser", "elinks -remote"])
def test_console_browsers_are_recognised(name):
    assert is_console_browser(name)


def test_no_browser_over_ssh_without_browser_variable():
    opened, rec = run({"SSH_TTY": "/dev/pts/1", "DISPLAY": "localhost:10"})
    assert not opened.ok and "SSH" in opened.message and rec.system_calls == []


def test_linux_needs_a_display():
    opened, rec = run({})
    assert not opened.ok and "DISPLAY" in opened.message and rec.system_calls == []
    opened, rec = run({"WAYLAND_DISPLAY": "wayland-0"})
    assert opened.ok and [page(address) for address in rec.system_calls] == [URL]


def test_macos_opens_without_display():
    opened, rec = run({}, platform="darwin")
    assert opened.ok and [page(address) for address in rec.system_calls] == [URL]


def test_system_without_a_graphical_browser_says_so():
    opened, _ = run({"DISPLAY": ":0"}, system_result=False)
    assert not opened.ok and "open the link yourself" in opened.message


def test_clipboard_without_a_mechanism_raises_unavailable(monkeypatch):
    import pyperclip

    def no_clipboard(text: str) -> None:
        raise pyperclip.PyperclipException("Pyperclip could not find a copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    with pytest.raises(clipboard.ClipboardUnavailable):
        clipboard.copy("x")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("token sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123 end", "token sk-ant-oat01-…0123 end"),
        ("ghu_abcdefghijklmnopqrstuvwxyz0123", "ghu_…0123"),
        ("github_pat_11ABCDEFG0123456789_abcdefghij", "…ghij"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123", "Authorization: Bearer …0123"),
        ("tok tid=abc123;exp=1795782600;proxy-ep=proxy.x.com;sku=y, ok", "tok tid=…ku=y, ok"),
    ],
)
def test_token_shaped_text_is_masked(text, shown):
    assert mask_secrets(text) == shown


@given(st.text(alphabet="sk-antoat01ghu_ABCxyz;=…# ", max_size=60))
def test_masking_twice_changes_nothing(text):
    once = mask_secrets(text)
    assert mask_secrets(once) == once


def test_log_file_is_private_and_masked(tmp_path: Path):
    path = setup_logging({"PI_TUI_LOG_DIR": str(tmp_path)})
    log = logging.getLogger("pi_tui.test")
    try:
        log.info("got %s", "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123")
        try:
            raise RuntimeError("refused ghu_abcdefghijklmnopqrstuvwxyz0123")
        except RuntimeError:
            log.exception("boom")
    finally:
        for handler in logging.getLogger("pi_tui").handlers[:]:
            handler.close()
            logging.getLogger("pi_tui").removeHandler(handler)
    text = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "sk-ant-oat01-…0123" in text and "ghu_…0123" in text
    assert "abcdefghijklmnop" not in text


def test_filter_never_drops_a_record():
    record = logging.LogRecord("pi_tui", logging.INFO, __file__, 1, "a %s", ("b",), None)
    assert MaskSecretsFilter().filter(record) and record.getMessage() == "a b"


@pytest.fixture
def app_runs(monkeypatch) -> list:
    """Stand in for PiTuiApp.run (no terminal in tests); records each app that would run."""
    from app.tui.app import PiTuiApp

    ran: list = []
    monkeypatch.setattr(PiTuiApp, "run", lambda self: ran.append(self))
    yield ran
    logger = logging.getLogger("pi_tui")
    for handler in logger.handlers[:]:
        handler.close()
        logger.removeHandler(handler)


def test_run_app_logs_to_the_log_dir(app_runs, store, tmp_path):
    from app.errors import LoginCancelled
    from app.tui.run import run_app

    env = {"PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    assert run_app(store, env=env, start="login", provider="anthropic") == LoginCancelled.exit_code
    (app,) = app_runs
    assert (app.start, app.start_provider) == ("login", "anthropic")
    assert app.log_path == tmp_path / "logs" / "pi-tui.log" and app.log_path.exists()
    assert app.service.store is store


def test_run_app_without_a_writable_log_dir_still_runs(app_runs, store, tmp_path):
    from app.tui.run import run_app

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run_app(store, env={"PI_TUI_LOG_DIR": str(blocker / "logs")}, start="status") == 0
    assert app_runs[0].log_path is None
