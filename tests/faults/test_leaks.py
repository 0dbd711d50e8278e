"""Leaks (issue item 6): every flow runs with the fake's recognisable tokens, and none of them
appears unmasked in the log file, a log record, any exception (str, repr, traceback), a
status line, ``status --json``, the command line's output, the repr of a service object, or
a snapshot/screenshot SVG.

The fake issues random tokens in the real shapes (``sk-ant-oat01-…``, ``sk-ant-ort01-…``,
``ghu_…``, ``tid=…;exp=…``); each test collects every one it sees (from the fake's answers,
the store, PKCE, the authorization code) and also looks for any token-shaped text at all, so a
token the test never saw is caught too. The real-terminal check is the tmux test's job.
"""

from __future__ import annotations

import html
import json
import logging
import re
import traceback
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.api import Credential, aget_credential
from app.errors import PiTuiError
from app.logs import LOGGER, setup_logging
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import ANTHROPIC_CLIENT_ID, FakeProviders
from tests.faults.conftest import HOUR_MS, make_store, now_ms
from tests.processes import run_cli

ROOT = Path(__file__).resolve().parents[2]
TOKEN_SHAPED = re.compile(r"sk-ant-o[ar]t01-[A-Za-z0-9_-]{20,}|gh[oupsr]_[A-Za-z0-9]{20,}|tid=[^;\s]{12,}")


@dataclass
class LeakWatch:
    """Collects secrets and every text a user or a log could see, then checks them."""

    secrets: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    log_file: Path | None = None

    def secret(self, *values: Any) -> None:
        """Remember values that must never be shown whole."""
        self.secrets.update(v for v in values if isinstance(v, str) and len(v) >= 8)

    def store(self, store: CredentialStore) -> None:
        """Remember every token now in ``store``."""
        for entry in store.load().values():
            if isinstance(entry, dict):
                self.secret(entry.get("access"), entry.get("refresh"))

    def seen(self, where: str, text: str) -> None:
        self.texts[f"{where} #{len(self.texts)}"] = text

    def error(self, where: str, error: BaseException) -> None:
        """Everything an exception can show: str, repr, and the whole formatted chain."""
        self.seen(f"{where}: str", str(error))
        self.seen(f"{where}: repr", repr(error))
        self.seen(f"{where}: traceback", "".join(traceback.format_exception(error)))

    async def expect_error(self, where: str, work: Awaitable[Any]) -> PiTuiError:
        with pytest.raises(PiTuiError) as caught:
            await work
        self.error(where, caught.value)
        return caught.value

    def cli(self, where: str, *args: str, env: dict[str, str]) -> Any:
        out = run_cli(*args, env=env)
        self.seen(f"{where}: stdout", out.stdout)
        self.seen(f"{where}: stderr", out.stderr)
        return out

    def check(self) -> None:
        assert self.secrets, "no secret was collected: the flows did not run"
        texts = dict(self.texts)
        for i, line in enumerate(self.log_lines):
            texts[f"log record {i}"] = line
        if self.log_file is not None:
            texts["log file"] = self.log_file.read_text()
        for where, text in texts.items():
            for secret in self.secrets:
                assert secret not in text, f"a secret ({secret[:12]}…) appears in {where}: {text!r}"
            shaped = TOKEN_SHAPED.search(_readable(text))
            assert shaped is None, f"token-shaped {shaped.group(0)[:16]}… in {where}"


def _readable(text: str) -> str:
    """JSON as a person reads it ("…", not "\\u2026"); other text as it is."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[LeakWatch]:
    """A LeakWatch wired to pi-tui's real log file (in a temp dir) and to every raw record."""
    logger = logging.getLogger(LOGGER)
    saved = (logger.level, logger.propagate, list(logger.handlers))
    watch = LeakWatch()

    class Raw(logging.Handler):
        """What the code itself logged, before the file handler's filter masks it in place."""

        def emit(self, record: logging.LogRecord) -> None:
            line = record.getMessage()
            if record.exc_info:
                line += "\n" + "".join(traceback.format_exception(*record.exc_info))
            watch.log_lines.append(line)

    watch.log_file = setup_logging({"PI_TUI_LOG_DIR": str(tmp_path / "logs")}, level=logging.DEBUG)
    logger.handlers.insert(0, Raw())  # first, so it sees each record before the filter does
    try:
        yield watch
    finally:
        for handler in logger.handlers:
            if handler not in saved[2]:
                handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]


def _set_expires(store: CredentialStore, provider: str, expires: int) -> None:
    entry = store.get(provider)
    assert entry is not None
    store.put(provider, {**entry, "expires": expires})


def _reprs(watch: LeakWatch, where: str, *objects: Any) -> None:
    for obj in objects:
        watch.seen(f"{where}: repr({type(obj).__name__})", repr(obj))


# --------------------------------------------------------------------------- Anthropic


async def test_anthropic_flows_leak_no_token(watch: LeakWatch, fake: FakeProviders, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    env = {**fake.env(), "PI_TUI_CALLBACK_PORT": "off", "PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    service = AuthService(store, env=env)

    # Log in by paste; a wrong paste first.
    login = await service.start_login("anthropic", "browser")
    code, state = fake.anthropic.authorize(login.url)
    watch.secret(code, login.pkce.verifier)
    await watch.expect_error("wrong-state paste", login.submit(f"{code}#not-the-state-at-all"))
    result = await login.submit(f"{code}#{state}")
    watch.store(store)
    _reprs(watch, "login", login, login.pkce, result, service.status("anthropic"), store)
    watch.seen("login message", result.message)

    # Refresh now, use the token, test it.
    status = await service.refresh("anthropic")
    watch.store(store)
    token = await service.get_token("anthropic")
    credential = await aget_credential("anthropic", agent_dir=store.path.parent, env=env)
    assert isinstance(credential, Credential) and credential.token == token
    _reprs(watch, "refresh", status, credential, *service.statuses())
    watch.seen("status json", json.dumps([s.to_json(now_ms=now_ms()) for s in service.statuses()]))
    watch.seen("test call", await service.test("anthropic"))

    # A code used twice, a failed refresh (server error, then a server that echoes the token
    # it was sent), a revoked login, a rejected test call.
    await watch.expect_error("reused code", _reuse(service, code))
    fake.fail("anthropic.refresh", status=503, body="<html>down</html>")
    await watch.expect_error("refresh 503", service.refresh("anthropic"))
    entry = store.get("anthropic")
    assert entry is not None
    echo = {"error": "invalid_request", "error_description": f"refresh_token {entry['refresh']} is malformed"}
    fake.fail("anthropic.refresh", status=400, body=echo)
    await watch.expect_error("refresh echoing the token", service.refresh("anthropic"))
    _reprs(watch, "refresh failed", service.status("anthropic"))
    watch.seen("refresh failed: last_error", service.status("anthropic").last_error or "")
    fake.anthropic.expire_access_tokens()
    await watch.expect_error("test call 401", service.test("anthropic"))
    fake.anthropic.revoke_all()
    _set_expires(store, "anthropic", now_ms() - 1)
    await watch.expect_error("revoked", service.get_token("anthropic"))

    # The command line, as a real process.
    agent = ["--agent-dir", str(store.path.parent)]
    watch.cli("status", "status", *agent, env=env)
    watch.cli("status --json", "status", "--json", *agent, env=env)
    out = watch.cli("token (revoked)", "token", "anthropic", *agent, env=env)
    assert out.returncode != 0 and out.stderr.startswith("pi-tui: ")
    fake.fail("anthropic.refresh", status=400, body=echo)
    out = watch.cli("token (echo)", "token", "anthropic", *agent, env=env)
    assert out.returncode != 0
    out = watch.cli("logout", "logout", "anthropic", "--yes", *agent, env=env)
    assert out.returncode == 0 and store.get("anthropic") is None
    assert service.logout("anthropic") is False
    assert watch.log_file is not None and "refreshed anthropic" in watch.log_file.read_text()
    assert any("refreshed anthropic" in line for line in watch.log_lines)
    watch.check()


async def _reuse(service: AuthService, code: str) -> None:
    again = await service.start_login("anthropic", "browser")
    await again.submit(f"{code}#{again.pkce.state}")


async def test_env_tokens_are_masked_in_status_and_errors(
    watch: LeakWatch, fake: FakeProviders, tmp_path: Path
) -> None:
    env = {
        **fake.env(),
        "ANTHROPIC_OAUTH_TOKEN": "sk-ant-oat01-" + "E" * 60,
        "ANTHROPIC_API_KEY": "sk-ant-api03-" + "K" * 60,
    }
    watch.secret(env["ANTHROPIC_OAUTH_TOKEN"], env["ANTHROPIC_API_KEY"])
    store = make_store(tmp_path)
    service = AuthService(store, env=env)
    _reprs(watch, "env", *service.statuses())
    await watch.expect_error("env token rejected", service.test("anthropic"))
    agent = ["--agent-dir", str(store.path.parent)]
    watch.cli("status", "status", *agent, env=env)
    watch.cli("status --json", "status", "--json", *agent, env=env)
    watch.check()


# --------------------------------------------------------------------------- GitHub Copilot


async def test_copilot_flows_leak_no_token(watch: LeakWatch, fake: FakeProviders, tmp_path: Path) -> None:
    pytest.importorskip("app.providers.github_copilot")
    store = make_store(tmp_path)
    env = {**fake.env(), "PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    service = AuthService(store, env=env, poll_scale=0.01)
    fake.github.min_poll_gap = 0.0

    login = await service.start_login("github-copilot")
    _reprs(watch, "device code", login)
    fake.github.approve()
    async for event in login.poll():
        _reprs(watch, "poll", event)
    watch.store(store)
    assert login.result is not None
    _reprs(watch, "copilot login", login, login.result, service.status("github-copilot"))

    _set_expires(store, "github-copilot", now_ms() - 1)
    await service.get_token("github-copilot")
    watch.store(store)
    watch.seen("copilot test", await service.test("github-copilot"))

    fake.copilot.expire_tokens()
    _set_expires(store, "github-copilot", now_ms() + HOUR_MS)
    await watch.expect_error("copilot api 401", service.test("github-copilot"))
    fake.copilot.mode = "no_access"
    _set_expires(store, "github-copilot", now_ms() - 1)
    await watch.expect_error("copilot 403", service.get_token("github-copilot"))
    fake.github.revoke_all()
    await watch.expect_error("copilot 401", service.get_token("github-copilot"))
    _reprs(watch, "copilot failed", service.status("github-copilot"))

    agent = ["--agent-dir", str(store.path.parent)]
    watch.cli("status", "status", *agent, env=env)
    watch.cli("status --json", "status", "--json", *agent, env=env)
    watch.cli("token", "token", "github-copilot", *agent, env=env)
    watch.cli("logout", "logout", "github-copilot", "--yes", *agent, env=env)
    watch.check()


def test_a_token_in_an_unexpected_error_is_masked_by_the_log_filter(watch: LeakWatch) -> None:
    """The one path that logs a traceback (an unexpected error in the app) goes through the filter."""
    secret = "sk-ant-ort01-" + "Z" * 60
    watch.secret(secret)
    try:
        raise RuntimeError(f"boom with {secret}")
    except RuntimeError as error:
        logging.getLogger(f"{LOGGER}.tui").error("unexpected error", exc_info=error)
    assert watch.log_file is not None and "boom with sk-ant-ort01-…ZZZZ" in watch.log_file.read_text()
    assert any(secret in line for line in watch.log_lines)  # the raw record has it: the filter's job
    watch.log_lines.clear()
    watch.check()


async def test_a_parsed_token_answer_does_not_show_its_tokens_in_repr(fake: FakeProviders) -> None:
    import httpx

    from app.http import request_json

    tokens = fake.anthropic.seed_login()
    body = {
        "grant_type": "refresh_token",
        "client_id": ANTHROPIC_CLIENT_ID,
        "refresh_token": tokens["refresh"],
    }
    async with httpx.AsyncClient(verify=client_tls()) as client:
        answer = await request_json(
            client, "POST", fake.env()["PI_TUI_ANTHROPIC_TOKEN_URL"], what="Anthropic", json=body
        )
    assert answer.status == 200 and answer.data["access_token"]
    assert not TOKEN_SHAPED.search(repr(answer)), repr(answer)


@pytest.mark.parametrize(
    "secret", ["sk-ant-oat01-" + "a" * 40 + "b1c2", "ghu_" + "x" * 36, "tid=" + "0f" * 16 + ";exp=1;8kp=1:ff"]
)
def test_a_masked_token_stays_recognisable_in_the_log(secret: str) -> None:
    """The log filter masks what the service already masked; it must not mask it again."""
    from app.mask import mask, mask_secrets

    assert mask_secrets(f"token {mask(secret)}") == f"token {mask(secret)}"


# --------------------------------------------------------------------------- snapshots and screenshots


def _svg_texts(path: Path) -> Iterator[str]:
    """The file as it is (entities decoded), and each rendered line joined from its spans."""
    raw = path.read_text(errors="replace")
    yield html.unescape(raw)
    lines: dict[str, list[str]] = {}
    for line, content in re.findall(
        r'<text[^>]*clip-path="url\(#[^)]*?-line-(\d+)\)"[^>]*>(.*?)</text>', raw
    ):
        lines.setdefault(line, []).append(html.unescape(re.sub(r"<[^>]+>", "", content)))
    for spans in lines.values():
        yield "".join(spans).replace("\xa0", " ")


def test_snapshots_and_screenshots_hold_no_token() -> None:
    files = sorted(
        [*ROOT.glob("tests/**/__snapshots__/**/*.svg"), *ROOT.glob("screenshots/**/*.svg")],
    )
    if not files:
        # No snapshot or screenshot exists yet, so nothing can leak; any SVG that lands is scanned.
        return
    scanned, found = 0, []
    for path in files:
        texts = list(_svg_texts(path))
        assert texts[0].strip(), f"{path} is empty"
        scanned += 1
        found += [
            (str(path.relative_to(ROOT)), m.group(0)[:16]) for t in texts for m in TOKEN_SHAPED.finditer(t)
        ]
    assert scanned == len(files) >= 1
    assert found == [], f"token-shaped text in snapshots/screenshots: {found}"


def test_the_svg_scan_would_catch_a_leak(tmp_path: Path) -> None:
    """The scanner itself: a token split over styled spans on one line is still found."""
    svg = tmp_path / "leak.svg"
    svg.write_text(
        '<svg><text class="a" clip-path="url(#t-line-3)">token&#160;sk-ant-oat01-ABCDEFGH</text>'
        '<text class="b" clip-path="url(#t-line-3)">IJKLMNOPQRSTUVWXYZ</text></svg>'
    )
    assert any(TOKEN_SHAPED.search(text) for text in _svg_texts(svg))
