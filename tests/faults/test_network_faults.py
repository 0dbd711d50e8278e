"""Every network fault of issue item 4, over real sockets to the loopback fake.

For each fault: the service raises a PiTuiError whose text is one sentence (no traceback, no
token); ``pi-tui token`` exits non-zero with that same sentence on stderr; and the stored login
is byte-for-byte what it was — pi-tui never deletes or rewrites a login because a refresh failed.
The cases are listed in :data:`FAULT_CASES` (see ``test_every_issue_fault_has_a_case``).

Timeouts use a short client (``AuthService(client_factory=...)``) and a short overall deadline.
The service has no deadline setting, so :func:`short_timeouts` wraps the Anthropic module's
``request_json`` to pass ``deadline=`` (the argument ``request_json`` already takes); the
command line cannot be given short timeouts from outside, so those three cases run its
``main()`` in this process with the same wrapping, instead of as a subprocess.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import cli
from app.credentials import State
from app.errors import AuthError, NetworkError, PiTuiError, RefreshError
from app.expiry import BUFFER_MS, MAX_LIFETIME_S
from app.http import make_client
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.faults.conftest import (
    HOUR_MS,
    assert_sentence,
    make_store,
    now_ms,
    seed_entry,
)
from tests.pi import refresh_like_pi, write_like_pi
from tests.processes import run_cli

REFRESH = "anthropic.refresh"
SHORT_TIMEOUT = httpx.Timeout(connect=0.3, read=0.3, write=2.0, pool=2.0)
SHORT_DEADLINE = 1.0
OTHER_PROVIDER = {"openai": {"type": "api_key", "key": "kept-as-is"}}


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the token endpoint and the sentence it must become."""

    id: str
    arrange: Callable[[FakeProviders], None]
    sentence: str  # a regex the whole sentence must match
    error: type[PiTuiError] = NetworkError


def _refresh_fails(**how: Any) -> Callable[[FakeProviders], None]:
    return lambda fake: fake.fail(REFRESH, **how)


def _retry_after_in(seconds: int) -> Callable[[FakeProviders], None]:
    def arrange(fake: FakeProviders) -> None:
        when = email.utils.formatdate(time.time() + seconds, usegmt=True)
        fake.fail(REFRESH, status=429, body=RATE_LIMITED, headers={"Retry-After": when})

    return arrange


RATE_LIMITED = {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}}
HOST = r"127\.0\.0\.1:\d+"
AGAIN = r"; try again in a moment\."
HTML_PAGE = "<!doctype html><html><body><h1>Sign in to the hotel Wi-Fi</h1></body></html>"

RESPONSE_FAULTS = [
    Fault(
        "connection-reset",
        _refresh_fails(kind="reset"),
        rf"Could not reach Anthropic at {HOST} \(\w+\)\. Check your connection or proxy settings "
        r"and try again\.",
    ),
    Fault(
        "http-500",
        _refresh_fails(status=500, body={"type": "error", "error": {"type": "api_error", "message": "x"}}),
        rf"Anthropic had a server error \(HTTP 500\){AGAIN}",
    ),
    Fault(
        "http-502-html",
        _refresh_fails(status=502, body="<html><h1>502 Bad Gateway</h1></html>"),
        rf"Anthropic had a server error \(HTTP 502\){AGAIN}",
    ),
    Fault(
        "http-503-empty",
        _refresh_fails(status=503, headers={"Retry-After": "30"}),
        rf"Anthropic had a server error \(HTTP 503\){AGAIN}",
    ),
    Fault(
        "429-retry-after-seconds",
        _refresh_fails(status=429, body=RATE_LIMITED, headers={"Retry-After": "7"}),
        r"Anthropic is rate limiting requests \(HTTP 429\); try again in 7 s\.",
    ),
    Fault(
        "429-retry-after-date",
        _retry_after_in(120),
        r"Anthropic is rate limiting requests \(HTTP 429\); try again in 1[01]\d s\.",
    ),
    Fault(
        "429-retry-after-garbage",
        _refresh_fails(status=429, body=RATE_LIMITED, headers={"Retry-After": "soon-ish"}),
        r"Anthropic is rate limiting requests \(HTTP 429\); try again in a minute\.",
    ),
    Fault(
        # "²" is a digit to str.isdigit() but not to int(); sent as the Latin-1 byte 0xB2.
        "429-retry-after-superscript-digit",
        _refresh_fails(status=429, body=RATE_LIMITED, headers={"Retry-After": "²"}),
        r"Anthropic is rate limiting requests \(HTTP 429\); try again in a minute\.",
    ),
    Fault(
        "429-retry-after-absurd-date",
        _refresh_fails(status=429, headers={"Retry-After": "Mon, 01 Jan 9999999999 00:00:00 GMT"}),
        r"Anthropic is rate limiting requests \(HTTP 429\); try again in (a minute|86400 s)\.",
    ),
    Fault(
        "html-instead-of-json-200",
        _refresh_fails(status=200, body=HTML_PAGE),
        r"Anthropic sent an HTML page \(HTTP 200\) instead of JSON; try again later\.",
    ),
    Fault(
        "html-instead-of-json-403",
        _refresh_fails(status=403, body=HTML_PAGE),
        r"Anthropic sent an HTML page \(HTTP 403\) instead of JSON; try again later\.",
    ),
    Fault(
        "empty-body-200",
        _refresh_fails(status=200),
        r"Anthropic sent an empty answer \(HTTP 200\) instead of JSON; try again later\.",
    ),
    Fault(
        "binary-body-200",
        _refresh_fails(status=200, body=b"\x00\xff\xfe garbage \x1b[2J"),
        r"Anthropic sent something unreadable \(HTTP 200\) instead of JSON; try again later\.",
    ),
    Fault(
        "deeply-nested-json",
        _refresh_fails(status=200, body=b"[" * 100_000, content_type="application/json"),
        r"Anthropic sent something unreadable \(HTTP 200\) instead of JSON; try again later\.",
    ),
    Fault(
        "http-200-carrying-error",
        _refresh_fails(status=200, body={"error": "server_error", "error_description": "Try later"}),
        r"Anthropic refused the refresh \(Try later\); try again later\.",
        RefreshError,
    ),
    Fault(
        "http-200-without-access-token",
        _refresh_fails(status=200, body={"token_type": "Bearer", "expires_in": 3600}),
        r"Anthropic's answer had no access token; try again in a moment\.",
    ),
    Fault(
        "http-200-json-array",
        _refresh_fails(status=200, body=[{"access_token": "sk-ant-oat01-x"}]),
        r"Anthropic's answer had no access token; try again in a moment\.",
    ),
    Fault(
        "http-400-invalid-request",
        _refresh_fails(status=400, body={"error": "invalid_request", "error_description": "Bad body"}),
        r"Anthropic refused the refresh \(Bad body\); try again later\.",
        RefreshError,
    ),
    Fault(
        "access-token-with-escapes",
        _refresh_fails(
            status=200,
            body={"access_token": "sk-ant-oat01-ok\x1b]52;c;cGk=\x07", "refresh_token": "r" * 40},
        ),
        r"Anthropic's answer had a token with spaces or control characters in it; try again in a moment\.",
    ),
]

TIMEOUT_FAULTS = ["connect-timeout", "read-timeout", "drip-past-deadline"]
EXPIRES_IN_CASES = [
    "expires_in-missing",
    "expires_in-null",
    "expires_in-string",
    "expires_in-nan",
    "expires_in-zero",
    "expires_in-negative",
    "expires_in-huge",
    "expires_in-1e308",
]
NO_REFRESH_TOKEN_CASES = ["refresh_token-omitted", "refresh_token-null", "refresh_token-empty"]
RACE_CASES = ["invalid_grant-pi-won-the-race", "other-process-refreshed-first"]
REVOCATION_CASES = ["invalid_grant-truly-revoked"]
COPILOT_CASES = ["copilot-token-401", "copilot-token-403", "copilot-api-401"]
LOGIN_FAULTS = ["reset", "http-503", "429", "html", "empty", "http-200-carrying-error", "read-timeout"]
TEST_CALL_FAULTS = ["expired-token-401", "http-529-overloaded", "html-403", "reset", "non-ascii-env-token"]

FAULT_CASES: list[str] = [
    *(f"refresh/{f.id}" for f in RESPONSE_FAULTS),
    *(f"refresh/{c}" for c in TIMEOUT_FAULTS),
    *(f"refresh/{c}" for c in EXPIRES_IN_CASES),
    *(f"refresh/{c}" for c in NO_REFRESH_TOKEN_CASES),
    *(f"refresh/{c}" for c in RACE_CASES),
    *(f"refresh/{c}" for c in REVOCATION_CASES),
    *COPILOT_CASES,
    *(f"login/{c}" for c in LOGIN_FAULTS),
    *(f"test-call/{c}" for c in TEST_CALL_FAULTS),
]

# Issue item 4, phrase by phrase, and the cases that pin each.
ISSUE_ITEMS = {
    "connect timeout": ["refresh/connect-timeout"],
    "read timeout": ["refresh/read-timeout", "login/read-timeout"],
    "dripping past the overall deadline": ["refresh/drip-past-deadline"],
    "connection reset": ["refresh/connection-reset", "login/reset", "test-call/reset"],
    "500/502/503": ["refresh/http-500", "refresh/http-502-html", "refresh/http-503-empty"],
    "429 Retry-After seconds": ["refresh/429-retry-after-seconds"],
    "429 Retry-After date": ["refresh/429-retry-after-date", "refresh/429-retry-after-absurd-date"],
    "429 Retry-After garbage": [
        "refresh/429-retry-after-garbage",
        "refresh/429-retry-after-superscript-digit",
    ],
    "HTML instead of JSON": ["refresh/html-instead-of-json-200", "refresh/html-instead-of-json-403"],
    "empty body": ["refresh/empty-body-200", "login/empty"],
    "HTTP 200 carrying an error": ["refresh/http-200-carrying-error", "login/http-200-carrying-error"],
    "missing/zero/negative/huge expires_in": [
        "refresh/expires_in-missing",
        "refresh/expires_in-zero",
        "refresh/expires_in-negative",
        "refresh/expires_in-huge",
    ],
    "refresh answer without refresh_token": ["refresh/refresh_token-omitted"],
    "invalid_grant, another process won": ["refresh/invalid_grant-pi-won-the-race"],
    "Copilot 401": ["copilot-token-401", "copilot-api-401"],
    "Copilot 403": ["copilot-token-403"],
}


def test_every_issue_fault_has_a_case() -> None:
    assert len(FAULT_CASES) == len(set(FAULT_CASES))
    for item, cases in ISSUE_ITEMS.items():
        assert set(cases) <= set(FAULT_CASES), item


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return make_store(tmp_path)


@pytest.fixture
def due_login(fake: FakeProviders, store: CredentialStore) -> dict[str, Any]:
    """A live Anthropic login that is due for refresh, next to another provider's entry."""
    write_like_pi(store.path, OTHER_PROVIDER)
    tokens = fake.anthropic.seed_login()
    return seed_entry(store, "anthropic", **tokens, expires=now_ms() - 1, email="me@example.com")


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> Callable[[], httpx.AsyncClient]:
    """Short timeouts for every client pi-tui makes here, and a short overall deadline."""
    from app import http
    from app.flows import oauth

    real_request = oauth.request_json

    async def request_with_short_deadline(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("deadline", SHORT_DEADLINE)
        return await real_request(*args, **kwargs)

    def short_client(**_: Any) -> httpx.AsyncClient:
        return make_client(timeout=SHORT_TIMEOUT)

    monkeypatch.setattr(oauth, "request_json", request_with_short_deadline)  # every token request
    monkeypatch.setattr(http, "make_client", short_client)  # the command line's client
    return short_client


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so a new connection is never completed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in (*fillers, listener):
        sock.close()


def get_token_error(service: AuthService, provider: str = "anthropic") -> PiTuiError:
    """The error ``get_token`` raises (failing the test if it returns)."""
    with pytest.raises(PiTuiError) as caught:
        asyncio.run(service.get_token(provider))
    return caught.value


def cli_token(
    store: CredentialStore, env: dict[str, str], provider: str = "anthropic"
) -> tuple[int, str, str]:
    out = run_cli("token", provider, "--agent-dir", str(store.path.parent), env=env)
    return out.returncode, out.stdout, out.stderr


def cli_token_in_process(
    store: CredentialStore, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["token", "anthropic", "--agent-dir", str(store.path.parent)], env=env)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_failure_reported(
    error: PiTuiError,
    sentence: str,
    service: AuthService,
    before: bytes,
    secrets: tuple[str, ...],
) -> str:
    """The error is one sentence, the store is untouched, and the status row shows it."""
    text = str(error)
    assert_sentence(text, *secrets)
    assert re.fullmatch(sentence, text), text
    assert service.store.path.read_bytes() == before
    status = service.status("anthropic")
    assert status.state is State.REFRESH_FAILED and status.last_error == text
    return text


def assert_cli_says(result: tuple[int, str, str], sentence: str, exit_code: int) -> None:
    code, out, err = result
    assert (code, out) == (exit_code, ""), err
    # The digits of "try again in N s" may move on by a second between the two runs.
    assert re.sub(r"\d+ s\b", "N s", err) == re.sub(r"\d+ s\b", "N s", f"pi-tui: {sentence}\n")


# --------------------------------------------------------------------------- refresh faults


@pytest.mark.parametrize("fault", RESPONSE_FAULTS, ids=[f.id for f in RESPONSE_FAULTS])
def test_refresh_fault_is_one_sentence_everywhere_and_keeps_the_login(
    fault: Fault, fake: FakeProviders, store: CredentialStore, due_login: dict[str, Any]
) -> None:
    before = store.path.read_bytes()
    secrets = (due_login["access"], due_login["refresh"])
    service = AuthService(store, env=fake.env())
    fault.arrange(fake)
    error = get_token_error(service)
    assert type(error) is fault.error
    assert not getattr(error, "revoked", False)
    text = assert_failure_reported(error, fault.sentence, service, before, secrets)

    fault.arrange(fake)
    assert_cli_says(cli_token(store, fake.env()), text, error.exit_code)
    assert store.path.read_bytes() == before
    assert fake.anthropic.is_refresh_valid(due_login["refresh"])  # no request got through


@pytest.mark.parametrize("case", TIMEOUT_FAULTS)
def test_refresh_timeout_is_one_sentence_and_keeps_the_login(
    case: str,
    fake: FakeProviders,
    store: CredentialStore,
    due_login: dict[str, Any],
    short_timeouts: Callable[[], httpx.AsyncClient],
    unanswered_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = fake.env()
    if case == "connect-timeout":
        env["PI_TUI_ANTHROPIC_TOKEN_URL"] = f"http://127.0.0.1:{unanswered_port}/v1/oauth/token"
        arrange: Callable[[], None] = lambda: None  # noqa: E731
        sentence = (
            rf"Anthropic timed out \(127\.0\.0\.1:{unanswered_port}\)\. Check your connection and try again\."
        )
    elif case == "read-timeout":
        arrange = lambda: fake.fail(REFRESH, kind="hang")  # noqa: E731
        sentence = rf"Anthropic timed out \({HOST}\)\. Check your connection and try again\."
    else:
        fake.drip_interval = 0.05  # a byte every 50 ms: the read timeout never fires
        arrange = lambda: fake.fail(REFRESH, kind="drip")  # noqa: E731
        sentence = r"Anthropic did not answer within 1 s\. Check your connection and try again\."
    before = store.path.read_bytes()
    service = AuthService(store, env=env, client_factory=short_timeouts)
    arrange()
    started = time.monotonic()
    error = get_token_error(service)
    assert time.monotonic() - started < SHORT_DEADLINE + 1.5
    assert type(error) is NetworkError
    text = assert_failure_reported(error, sentence, service, before, (due_login["access"],))

    arrange()
    assert_cli_says(cli_token_in_process(store, env, capsys), text, error.exit_code)
    assert store.path.read_bytes() == before


EXPIRES_IN = {
    "expires_in-missing": (None, HOUR_MS),
    "expires_in-null": (json.dumps(None), HOUR_MS),
    "expires_in-string": (json.dumps("3600"), HOUR_MS),
    "expires_in-nan": ("NaN", HOUR_MS),
    "expires_in-zero": ("0", 0),
    "expires_in-negative": ("-3600", 0),
    "expires_in-huge": ("99999999999999", MAX_LIFETIME_S * 1000),
    "expires_in-1e308": ("1e308", MAX_LIFETIME_S * 1000),
}


@pytest.mark.parametrize("case", EXPIRES_IN_CASES)
def test_refresh_with_odd_expires_in_stores_a_sane_expiry(
    case: str, fake: FakeProviders, store: CredentialStore, due_login: dict[str, Any]
) -> None:
    raw, lifetime_ms = EXPIRES_IN[case]
    field = "" if raw is None else f', "expires_in": {raw}'
    access, refresh = "sk-ant-oat01-" + "A" * 60, "sk-ant-ort01-" + "B" * 60
    body = f'{{"access_token": "{access}", "refresh_token": "{refresh}"{field}}}'.encode()
    fake.fail(REFRESH, status=200, body=body, content_type="application/json")
    service = AuthService(store, env=fake.env())
    started = now_ms()
    assert asyncio.run(service.get_token("anthropic")) == access
    finished = now_ms()
    entry = store.get("anthropic")
    assert entry is not None and entry["refresh"] == refresh
    expires = entry["expires"]
    assert type(expires) is int
    buffer = BUFFER_MS if lifetime_ms >= 2 * BUFFER_MS else lifetime_ms // 2
    assert started + lifetime_ms - buffer <= expires <= finished + lifetime_ms - buffer
    assert expires >= started  # never stored as already expired
    assert json.loads(store.path.read_text())["openai"] == OTHER_PROVIDER["openai"]


@pytest.mark.parametrize("case", NO_REFRESH_TOKEN_CASES)
def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    case: str, fake: FakeProviders, store: CredentialStore, due_login: dict[str, Any]
) -> None:
    if case == "refresh_token-omitted":
        fake.anthropic.omit_refresh_token = True  # the real server's way: the old token stays valid
    else:
        value = None if case == "refresh_token-null" else ""
        body = {"access_token": "sk-ant-oat01-" + "C" * 60, "refresh_token": value, "expires_in": 3600}
        fake.fail(REFRESH, status=200, body=body)
    service = AuthService(store, env=fake.env())
    token = asyncio.run(service.get_token("anthropic"))
    entry = store.get("anthropic")
    assert entry is not None
    assert token == entry["access"] != due_login["access"]
    assert entry["refresh"] == due_login["refresh"]
    if case == "refresh_token-omitted":
        store.put("anthropic", {**entry, "expires": now_ms() - 1})
        code, out, err = cli_token(store, fake.env())
        assert code == 0 and fake.anthropic.is_access_valid(out.strip()), err
        assert store.get("anthropic")["refresh"] == due_login["refresh"]  # type: ignore[index]


def _pi_refreshes(fake: FakeProviders, store: CredentialStore, refresh: str) -> dict[str, Any]:
    """What pi does: refresh with the stored token, then write the file without pi-tui's lock."""
    entry = refresh_like_pi(fake, refresh, expires=now_ms() + HOUR_MS)
    write_like_pi(store.path, {**OTHER_PROVIDER, "anthropic": entry})
    return entry


def _when_our_refresh_is_in_flight(fake: FakeProviders, then: Callable[[], Any]) -> threading.Thread:
    """Hold our refresh at the server; once it is there, run ``then`` (pi) and let ours go on."""
    fake.set_latency(REFRESH, 1.0)

    def watch() -> None:
        deadline = time.monotonic() + 20
        while fake.count(REFRESH) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        fake.set_latency(REFRESH, 0.0)  # pi's own request is not held
        then()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_invalid_grant_because_pi_won_the_race_uses_its_token(
    fake: FakeProviders, store: CredentialStore, due_login: dict[str, Any]
) -> None:
    won: list[dict[str, Any]] = []
    service = AuthService(store, env=fake.env())
    thread = _when_our_refresh_is_in_flight(
        fake, lambda: won.append(_pi_refreshes(fake, store, due_login["refresh"]))
    )
    token = asyncio.run(service.get_token("anthropic"))
    thread.join()
    # Ours and pi's sent the same refresh token; ours, answered last, got invalid_grant.
    assert [r.data["refresh_token"] for r in fake.requests_for(REFRESH)] == [due_login["refresh"]] * 2
    assert token == won[0]["access"] and fake.anthropic.is_access_valid(token)
    assert store.get("anthropic") == won[0]  # still logged in, with pi's login
    assert service.status("anthropic").state is State.LOGGED_IN

    # The same race through the command line: it prints pi's token and exits 0.
    fake.clear_requests()
    store.put("anthropic", {**won[0], "expires": now_ms() - 1})
    stored_refresh, won = won[0]["refresh"], []
    thread = _when_our_refresh_is_in_flight(
        fake, lambda: won.append(_pi_refreshes(fake, store, stored_refresh))
    )
    code, out, err = cli_token(store, fake.env())
    thread.join()
    assert [r.data["refresh_token"] for r in fake.requests_for(REFRESH)] == [stored_refresh] * 2
    assert (code, out) == (0, won[0]["access"] + "\n"), err
    assert store.get("anthropic") == won[0]


def test_other_process_refreshed_first_makes_no_request(
    fake: FakeProviders, tmp_path: Path, due_login: dict[str, Any], store: CredentialStore
) -> None:
    """Another pi-tui refreshed between our read and our lock: its token is used as it is."""
    fresh = {**due_login, "access": "sk-ant-oat01-" + "D" * 60, "expires": now_ms() + HOUR_MS}

    def other_process_wrote_first(step: str) -> None:
        if step == "lock-acquired" and not fake.requests:
            write_like_pi(racing.path, {**OTHER_PROVIDER, "anthropic": fresh})

    racing = CredentialStore(store.path, on_step=other_process_wrote_first)
    service = AuthService(racing, env=fake.env())
    assert asyncio.run(service.get_token("anthropic")) == fresh["access"]
    assert fake.count(REFRESH) == 0


def test_truly_revoked_login_says_log_in_again_and_is_kept(
    fake: FakeProviders, store: CredentialStore, due_login: dict[str, Any]
) -> None:
    before = store.path.read_bytes()
    fake.anthropic.revoke_all()
    service = AuthService(store, env=fake.env())
    error = get_token_error(service)
    assert isinstance(error, RefreshError) and error.revoked
    sentence = (
        r"Anthropic no longer accepts this login \(it was revoked or replaced\)\. Log in again to continue\."
    )
    text = assert_failure_reported(error, sentence, service, before, (due_login["refresh"],))
    assert_cli_says(cli_token(store, fake.env()), text, error.exit_code)
    assert store.path.read_bytes() == before  # pi-tui never deletes a login on a failed refresh


# --------------------------------------------------------------------------- GitHub Copilot


@pytest.fixture
def copilot_login(fake: FakeProviders, store: CredentialStore) -> dict[str, Any]:
    """A stored Copilot login whose Copilot token is due (GitHub token in ``refresh``)."""
    pytest.importorskip("app.providers.github_copilot")
    write_like_pi(store.path, OTHER_PROVIDER)
    return seed_entry(
        store,
        "github-copilot",
        refresh=fake.github.seed_login(),
        access=fake.copilot.seed_token(),
        expires=now_ms() - 1,
        login="octocat",
    )


@pytest.mark.parametrize("case", ["copilot-token-401", "copilot-token-403"])
def test_copilot_token_refusal_is_one_sentence_and_keeps_the_login(
    case: str, fake: FakeProviders, store: CredentialStore, copilot_login: dict[str, Any]
) -> None:
    if case == "copilot-token-401":
        fake.github.revoke_all()  # GitHub no longer accepts the GitHub token
    else:
        fake.copilot.mode = "no_access"  # the account has no Copilot subscription
    before = store.path.read_bytes()
    service = AuthService(store, env=fake.env())
    error = get_token_error(service, "github-copilot")
    assert isinstance(error, AuthError)
    assert getattr(error, "revoked", False) is (case == "copilot-token-401")
    text = str(error)
    assert_sentence(text, copilot_login["refresh"], copilot_login["access"])
    assert ("log in again" in text.lower()) and (case == "copilot-token-401" or "Copilot" in text)
    assert store.path.read_bytes() == before
    status = service.status("github-copilot")
    assert status.state is State.REFRESH_FAILED and status.last_error == text
    assert_cli_says(cli_token(store, fake.env(), "github-copilot"), text, error.exit_code)
    assert store.path.read_bytes() == before


def test_copilot_api_401_on_test_call_is_one_sentence(
    fake: FakeProviders, store: CredentialStore, copilot_login: dict[str, Any]
) -> None:
    store.put("github-copilot", {**copilot_login, "expires": now_ms() + HOUR_MS})
    before = store.path.read_bytes()
    fake.copilot.expire_tokens()  # Copilot answers 401 although the stored expiry says valid
    service = AuthService(store, env=fake.env())
    with pytest.raises(AuthError) as caught:
        asyncio.run(service.test("github-copilot"))
    assert_sentence(str(caught.value), copilot_login["access"], copilot_login["refresh"])
    assert "401" in str(caught.value)
    assert store.path.read_bytes() == before


# --------------------------------------------------------------------------- login and test call


LOGIN_FAULT_SETUP: dict[str, tuple[dict[str, Any], str]] = {
    "reset": ({"kind": "reset"}, r"Could not reach Anthropic at .*"),
    "http-503": ({"status": 503, "body": "<html>down</html>"}, r"Anthropic had a server error .*"),
    "429": ({"status": 429, "headers": {"Retry-After": "3"}}, r".*\(HTTP 429\); try again in 3 s\."),
    "html": ({"status": 200, "body": HTML_PAGE}, r"Anthropic sent an HTML page .*"),
    "empty": ({"status": 200}, r"Anthropic sent an empty answer .*"),
    "http-200-carrying-error": (
        {"status": 200, "body": {"error": "server_error", "error_description": "Busy"}},
        r"Anthropic refused the login \(Busy\)\. Start the login again\.",
    ),
    "read-timeout": ({"kind": "hang"}, r"Anthropic timed out .*"),
}


@pytest.mark.parametrize("case", LOGIN_FAULTS)
async def test_code_exchange_fault_is_one_sentence_and_never_retried(
    case: str, fake: FakeProviders, store: CredentialStore
) -> None:
    write_like_pi(store.path, OTHER_PROVIDER)
    before = store.path.read_bytes()
    how, sentence = LOGIN_FAULT_SETUP[case]
    service = AuthService(
        store,
        env={**fake.env(), "PI_TUI_CALLBACK_PORT": "off"},
        client_factory=lambda: make_client(timeout=SHORT_TIMEOUT),
    )
    login = await service.start_login("anthropic", "browser")
    code, state = fake.anthropic.authorize(login.url)
    fake.fail("anthropic.exchange", **how)
    with pytest.raises(AuthError) as caught:
        await login.submit(f"{code}#{state}")
    assert_sentence(str(caught.value), code, login.pkce.verifier)
    assert re.fullmatch(sentence, str(caught.value)), str(caught.value)
    assert fake.count("anthropic.exchange") == 1  # a code is single-use: never retried
    assert store.path.read_bytes() == before


TEST_CALL_SETUP: dict[str, tuple[Callable[[FakeProviders], None], str]] = {
    "expired-token-401": (
        lambda fake: fake.anthropic.expire_access_tokens(),
        r"Anthropic rejected the token \(HTTP 401: invalid bearer token\)\. "
        r"Press r to refresh, or log in again\.",
    ),
    "http-529-overloaded": (
        lambda fake: fake.fail("anthropic.messages", status=529, body={"error": {"type": "overloaded"}}),
        r"Anthropic had a server error \(HTTP 529\); try again in a moment\.",
    ),
    "html-403": (
        lambda fake: fake.fail("anthropic.messages", status=403, body=HTML_PAGE),
        r"Anthropic sent an HTML page \(HTTP 403\) instead of JSON; try again later\.",
    ),
    "reset": (lambda fake: fake.fail("anthropic.messages", kind="reset"), r"Could not reach Anthropic .*"),
    # httpx cannot encode such a header; it once escaped request_json as UnicodeEncodeError.
    "non-ascii-env-token": (lambda fake: None, r"The token has spaces, control or non-ASCII characters.*"),
}


@pytest.mark.parametrize("case", TEST_CALL_FAULTS)
async def test_test_call_fault_is_one_sentence_and_keeps_the_login(
    case: str, fake: FakeProviders, store: CredentialStore
) -> None:
    tokens = fake.anthropic.seed_login()
    env = fake.env()
    if case == "non-ascii-env-token":
        env["ANTHROPIC_OAUTH_TOKEN"] = tokens["access"] = "sk-ant-oat01-Schlüssel-日本"
    else:
        seed_entry(store, "anthropic", **tokens, expires=now_ms() + HOUR_MS)
    write_like_pi(store.path, {**OTHER_PROVIDER, **store.load()})
    before = store.path.read_bytes()
    arrange, sentence = TEST_CALL_SETUP[case]
    arrange(fake)
    service = AuthService(store, env=env)
    with pytest.raises(AuthError) as caught:
        await service.test("anthropic")
    assert_sentence(str(caught.value), *tokens.values())
    assert re.fullmatch(sentence, str(caught.value)), str(caught.value)
    assert store.path.read_bytes() == before
