"""The one token path (AuthService.token / token_sync) as `pi-tui token` and PiAuth use it."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import PiAuth
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.fixtures import client_tls
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic
from tests.processes import run_cli

MINUTE_MS = 60_000


def test_min_expiry_refreshes_a_token_with_less_left_than_asked(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    old = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + 20 * MINUTE_MS)
    agent = str(store.path.parent)

    plain = run_cli("token", "anthropic", "--agent-dir", agent, env=fake.env())
    assert (plain.returncode, plain.stdout) == (0, old["access"] + "\n")
    assert fake.count("anthropic.refresh") == 0

    asked = run_cli("token", "anthropic", "--min-expiry", "30m", "--agent-dir", agent, env=fake.env())
    assert asked.returncode == 0, asked.stderr
    new = store.get("anthropic")
    assert new is not None and asked.stdout == new["access"] + "\n" != old["access"] + "\n"
    assert fake.count("anthropic.refresh") == 1

    again = run_cli("token", "anthropic", "--min-expiry", "1800", "--agent-dir", agent, env=fake.env())
    assert (again.returncode, again.stdout) == (0, new["access"] + "\n")
    assert fake.count("anthropic.refresh") == 1  # the new token has about an hour: no second refresh


@pytest.mark.parametrize("bad", ["soon", "30d", "-5", ""])
def test_min_expiry_that_is_not_a_duration_is_one_sentence(tmp_path: Path, bad: str) -> None:
    out = run_cli("token", "anthropic", "--min-expiry", bad, "--agent-dir", str(tmp_path))
    assert out.returncode == 2
    assert "is not a duration; give seconds, or e.g. 90s, 30m, 2h" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_due_token_that_still_works_is_printed_when_the_refresh_fails_for_a_passing_reason(
    tmp_path: Path, fake: FakeProviders
) -> None:
    store = make_store(tmp_path)
    entry = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + 2 * MINUTE_MS)
    fake.fail("anthropic.refresh", status=503, body="busy", content_type="text/plain")
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert (out.returncode, out.stdout) == (0, entry["access"] + "\n")
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "still valid" in lines[0], out.stderr
    assert store.get("anthropic") == entry  # nothing changed


def test_an_expired_token_is_not_printed_when_the_refresh_fails(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.fail("anthropic.refresh", status=503, body="busy", content_type="text/plain")
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert (out.returncode, out.stdout) == (4, "")


def test_min_expiry_is_not_met_by_a_stand_in_token(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + 20 * MINUTE_MS)
    fake.fail("anthropic.refresh", status=503, body="busy", content_type="text/plain")
    out = run_cli(
        "token", "anthropic", "--min-expiry", "30m", "--agent-dir", str(store.path.parent), env=fake.env()
    )
    assert (out.returncode, out.stdout) == (4, "")


def test_waiting_for_a_held_lock_is_said_after_a_second_and_the_token_follows(
    tmp_path: Path, fake: FakeProviders
) -> None:
    store = CredentialStore(tmp_path / "agent" / "auth.json")
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    lock = store.path.with_name("auth.json.lock")
    lock.mkdir()  # pi's lock directory, held by "another program" for 2.5 s
    release = threading.Timer(2.5, lock.rmdir)
    release.start()
    try:
        out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    finally:
        release.join()
    assert out.returncode == 0, out.stderr
    assert "Waiting for the lock on auth.json, held by another program" in out.stderr
    stored = store.get("anthropic")
    assert stored is not None and out.stdout == stored["access"] + "\n"


def test_token_refuses_a_stored_token_holding_control_characters(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    evil = "sk-ant-oat01-" + "a" * 20 + "\x1b]52;c;ZXZpbA==\x07\x1b[2J"
    seed_anthropic(store, {"access": evil, "refresh": "r"}, expires=now_ms() + HOUR_MS)
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent))
    assert (out.returncode, out.stdout) == (3, "")
    assert "holds control characters" in out.stderr and "\x1b" not in out.stderr


# -- PiAuth: the credential goes to the provider's API origin only -------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Another origin on loopback that records the headers it is sent."""
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


def _api_key_service(tmp_path: Path, fake: FakeProviders) -> tuple[AuthService, str]:
    import json

    key = "sk-ant-api03-" + "k" * 40
    fake.anthropic.api_keys.add(key)
    store = CredentialStore(tmp_path / "agent" / "auth.json")
    store.path.parent.mkdir(parents=True, mode=0o700)
    store.path.write_text(json.dumps({"anthropic": {"type": "api_key", "key": key}}))
    os.chmod(store.path, 0o600)
    return AuthService(store, env=fake.env()), key


def test_pi_auth_signs_no_request_to_another_host(
    tmp_path: Path, fake: FakeProviders, elsewhere: tuple[str, list[dict[str, str]]]
) -> None:
    service, key = _api_key_service(tmp_path, fake)
    url, seen = elsewhere
    with httpx.Client(verify=client_tls(), auth=PiAuth(service, "anthropic")) as client:
        assert client.get(f"{url}/v1/models").status_code == 200
    assert seen and "x-api-key" not in seen[0] and "authorization" not in seen[0]
    assert all(key not in value for value in seen[0].values())


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_pi_auth_keeps_the_api_key_off_a_cross_origin_redirect(
    tmp_path: Path, fake: FakeProviders, elsewhere: tuple[str, list[dict[str, str]]], asynchronous: bool
) -> None:
    service, key = _api_key_service(tmp_path, fake)
    url, seen = elsewhere
    fake.fail("anthropic.messages", status=307, headers={"location": f"{url}/stolen"})
    auth = PiAuth(service, "anthropic")
    if asynchronous:
        async with httpx.AsyncClient(verify=client_tls(), auth=auth, follow_redirects=True) as client:
            response = await client.post(f"{auth.base_url()}/v1/messages", json={})
    else:
        with httpx.Client(verify=client_tls(), auth=auth, follow_redirects=True) as client:
            response = client.post(f"{auth.base_url()}/v1/messages", json={})
    assert response.status_code == 200 and len(response.history) == 1
    (sent,) = fake.requests_for("anthropic.messages")
    assert sent.headers["x-api-key"] == key  # the provider's own host got it
    assert seen and "x-api-key" not in seen[0]
    assert all(key not in value for value in seen[0].values())
