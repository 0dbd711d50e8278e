"""`pi-tui status` for Codex and OpenRouter logins: their rows, "does not expire", masking, and
still neither Textual nor httpx nor asyncio loaded."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ACCOUNT = "acct_0123456789abcdef"
KEY = "sk-or-v1-" + "k" * 64


def jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.{'s' * 43}"


ACCESS = jwt({"https://api.openai.com/auth": {"chatgpt_account_id": ACCOUNT}, "exp": 2_000_000_000})


def agent_dir(tmp_path: Path) -> Path:
    now_ms = int(time.time() * 1000)
    doc = {
        "openai-codex": {
            "type": "oauth",
            "access": ACCESS,
            "refresh": "rt_" + "r" * 40,
            "expires": now_ms + 3_600_000,
            "accountId": ACCOUNT,
        },
        "openrouter": {"type": "oauth", "access": KEY, "refresh": "", "expires": 9007199254740991},
    }
    tmp_path.chmod(0o700)
    path = tmp_path / "oauth.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return tmp_path


def run_status(agent: Path, *extra: str) -> tuple[str, set[str]]:
    args = ["status", *extra, "--agent-dir", str(agent)]
    code = (
        "import contextlib, io, json, sys\nfrom app.cli import main\nout = io.StringIO()\n"
        f"with contextlib.redirect_stdout(out):\n    assert main({args!r}, env={{}}) == 0\n"
        "print(json.dumps([out.getvalue(), sorted(sys.modules)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    text, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return text, set(modules)


@pytest.mark.parametrize("extra", [(), ("--json",)])
def test_status_is_light_and_masks(tmp_path: Path, extra: tuple[str, ...]) -> None:
    text, modules = run_status(agent_dir(tmp_path), *extra)
    heavy = {m for m in modules if m.split(".")[0] in ("textual", "httpx", "httpcore", "asyncio")}
    assert heavy == set()
    assert ACCESS not in text and ACCESS.split(".")[1] not in text and KEY not in text
    shown = json.dumps(json.loads(text), ensure_ascii=False) if extra else text
    assert ACCOUNT not in shown and "acct_…cdef" in shown


def test_status_lines(tmp_path: Path) -> None:
    text, _ = run_status(agent_dir(tmp_path))
    lines = text.splitlines()
    codex = next(line for line in lines if line.startswith("OpenAI (ChatGPT Plus/Pro): logged in"))
    assert "ChatGPT account: acct_…cdef" in codex and "expires in 59m" in codex
    assert "OpenRouter OAuth: logged in (via oauth.json, does not expire, token sk-or-v1-…kkkk)" in lines
