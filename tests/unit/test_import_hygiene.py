"""The service layer never loads Textual; ``status`` and ``token`` load neither Textual nor httpx."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.providers import PROVIDERS

SERVICE_MODULES = [
    "app.paths",
    "app.store",
    "app.credentials",
    "app.api",
    "app.endpoints",
    "app.expiry",
    "app.http",
    "app.auth",
    "app.service",
    "app.flows",
    "app.flows.pkce",
    "app.flows.callback",
    "app.flows.auth_code",
    "app.flows.device",
    "app.providers",
    *(info.module for info in PROVIDERS.values()),
]


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_service_module_does_not_import_textual(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    assert module in loaded
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)


def _store_with_valid_token(tmp_path: Path, name: str = "oauth.json") -> Path:
    now_ms = int(time.time() * 1000)
    entry = {"type": "oauth", "refresh": "sk-ant-ort01-" + "r" * 40, "access": "sk-ant-oat01-" + "a" * 40}
    doc = {
        "anthropic": {**entry, "expires": now_ms + 3_600_000},
        "github-copilot": {"type": "api_key", "key": "ghu_" + "k" * 36},  # pi's own kind of entry
    }
    tmp_path.chmod(0o700)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return tmp_path


@pytest.mark.parametrize("name", ["oauth.json", "auth.json"])
@pytest.mark.parametrize(
    "argv", [["token", "anthropic"], ["token", "github-copilot"], ["status"], ["status", "--json"]]
)
def test_status_and_token_load_neither_textual_nor_httpx(tmp_path: Path, argv: list[str], name: str) -> None:
    agent = _store_with_valid_token(tmp_path, name)
    args = [*argv, "--agent-dir", str(agent)]
    code = (
        "import contextlib, io\nfrom app.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({args!r}, env={{}}) == 0"
    )
    loaded = _loaded_after(code)
    assert "app.cli" in loaded
    heavy = {m for m in loaded if m.split(".")[0] in ("textual", "httpx", "httpcore", "asyncio")}
    assert heavy == set()


def test_status_with_every_provider_logged_in_stays_light(tmp_path: Path) -> None:
    """Every provider module's status rows are read without the HTTP stack."""
    now_ms = int(time.time() * 1000)
    entry = {"type": "oauth", "refresh": "r" * 40, "access": "a" * 40, "expires": now_ms + 3_600_000}
    tmp_path.chmod(0o700)
    path = tmp_path / "oauth.json"
    path.write_text(json.dumps(dict.fromkeys(PROVIDERS, entry)))
    path.chmod(0o600)
    args = ["status", "--agent-dir", str(tmp_path)]
    code = (
        "import contextlib, io\nfrom app.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({args!r}, env={{}}) == 0"
    )
    loaded = _loaded_after(code)
    assert {info.module for info in PROVIDERS.values()} <= loaded
    heavy = {m for m in loaded if m.split(".")[0] in ("textual", "httpx", "httpcore", "asyncio")}
    assert heavy == set()
