"""The service layer never loads Textual; ``status`` and ``token`` load neither Textual nor httpx."""

from __future__ import annotations

import ast
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
    # Their plain forms are read without argparse; a fresh token is printed without typing or
    # threading (each costs more than the rest of `pi-tui token`: bench/run.py).
    assert "argparse" not in loaded
    if argv[0] == "token":
        assert {"typing", "threading"} & loaded == set()


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


# What the status panel's first frame does not draw, so does not load: the system clipboard
# (pyperclip loads ctypes), the HTTP stack, the login machinery and its screens, the browser
# opener, the other accounts' file. Each comes with the screen or the key that uses it.
NOT_IN_THE_FIRST_FRAME = (
    "pyperclip",
    "ctypes",
    "httpx",
    "app.clipboard",
    "app.opener",
    "app.login",
    "app.flows.auth_code",
    "app.flows.device",
    "app.flows.callback",
    "app.accounts",
    "app.tui.login",
    "app.tui.copying",
    "app.tui.screens.confirm",
    "app.tui.screens.help",
    "app.tui.screens.provider_select",
    "app.tui.screens.auth_code_login",
    "app.tui.screens.device_code",
)


def test_the_status_panels_first_frame_loads_only_what_it_draws(tmp_path: Path) -> None:
    """The app, headless at 80×24 over two logins, until its first frame (bench figure 3)."""
    agent = _store_with_valid_token(tmp_path)
    probe = (
        "import json, sys\nfrom app.service import AuthService\nfrom app.store import CredentialStore\n"
        "from app.tui.app import PiTuiApp\n"
        f"service = AuthService(CredentialStore({str(agent / 'oauth.json')!r}), env={{}})\n"
        "loaded = []\n"
        "def first_frame():\n    loaded.extend(sys.modules)\n    app.exit()\n"
        "app = PiTuiApp(service, usage=False, on_first_frame=first_frame)\n"
        "app.run(headless=True, size=(80, 24))\nprint(json.dumps(sorted(loaded)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"app.tui.screens.status", "app.providers.anthropic"} <= loaded  # it did draw the panel
    assert sorted(loaded & set(NOT_IN_THE_FIRST_FRAME)) == []


# DESIGN.md: "Keep the start-up fast at two boundaries only (the `status`/`token` fast path, and
# the registry being light); import normally everywhere else." The modules that may import
# inside a function, what they may import so (None: anything; their imports are per command
# or per provider), and why.
APP = Path(__file__).resolve().parents[2] / "app"
FAST = "`pi-tui status` and `token` load this module"
LAZY_ALLOWED: dict[str, tuple[frozenset[str] | None, str]] = {
    "app/__init__.py": (None, "`import app` (so `pi-tui token`) stays cheap: the library loads on use"),
    "app/cli.py": (None, "each command imports its own: status and token load neither textual nor httpx"),
    "app/service.py": (None, f"{FAST}: asyncio, httpx, the flows only for a refresh or a login"),
    "app/credentials.py": (None, f"{FAST}: what only some entries need"),
    "app/providers/__init__.py": (None, "the registry is light: a provider's module loads only when asked"),
    # Each provider module, read for its status rows: the flows (asyncio) only for a login.
    **{
        f"app/providers/{path.name}": (None, f"{FAST} for its status rows")
        for path in (APP / "providers").glob("*.py")
        if path.name != "__init__.py"
    },
    "app/http.py": (
        frozenset({"httpx", "asyncio", "logging", "zlib", "email.utils"}),
        f"{FAST}: the HTTP stack only for a request",
    ),
    "app/accounts.py": (frozenset({"asyncio"}), "`pi-tui token --account` of a fresh account: no refresh"),
    "app/store/transaction.py": (
        frozenset({"asyncio", "threading"}),
        f"{FAST} and opens no transaction: threading and asyncio only for one",
    ),
    "app/store/locks.py": (
        frozenset({"fcntl", "random", "threading", "signal"}),
        f"{FAST}: only writers lock (and only pi's lock has a heartbeat thread)",
    ),
    "app/store/document.py": (frozenset({"shlex"}), f"{FAST}: only a fix-it sentence quotes"),
    "app/keys.py": (frozenset({"subprocess"}), f"{FAST}: only a !command runs one"),
    "app/paths.py": (
        frozenset({"shlex", "grp", "pwd", "platformdirs"}),
        f"{FAST}: a fix-it sentence, a shared group, the log directory",
    ),
    "app/state.py": (frozenset({"platformdirs", "shlex"}), f"{FAST}: the default directory, a sentence"),
    "app/sanitize.py": (frozenset({"unicodedata"}), f"{FAST}: only a box-drawing character"),
    # Not a boundary DESIGN.md names: tests/usage/test_usage_cli.py keeps it light for tmux.
    "app/usage.py": (
        frozenset({"asyncio", "logging", "fcntl"}),
        "`pi-tui usage --short` reads the cache without asyncio, and logs nothing",
    ),
    # Not a boundary DESIGN.md names either: the status panel's first frame (bench/run.py,
    # figure 3). The screens after it load when first shown; at the top they cost ~10 ms of it.
    "app/tui/app.py": (
        frozenset(
            {
                "app.opener",
                "app.tui.login",
                "app.tui.screens.confirm",
                "app.tui.screens.help",
                "app.tui.screens.provider_select",
            }
        ),
        "the first frame draws the status panel: the other screens load when first shown",
    ),
}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def function_level_imports(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import statement inside a function (at any depth)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif in_function and isinstance(child, ast.ImportFrom):
                found.append((child.lineno, "." * child.level + (child.module or "")))
            visit(child, in_function or isinstance(child, FUNCTIONS))

    visit(ast.parse(source), False)
    return found


def lazy_imports() -> dict[str, list[tuple[int, str]]]:
    """Each app module (its path in the repository) that imports inside functions, and those imports."""
    paths = {path.relative_to(APP.parent).as_posix(): path for path in sorted(APP.rglob("*.py"))}
    return {
        name: found for name, path in paths.items() if (found := function_level_imports(path.read_text()))
    }


def test_function_level_imports_are_found_at_any_depth() -> None:
    source = (
        "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import httpx\n"
        "try:\n    import fcntl\nexcept ImportError:\n    pass\n"
        "def f():\n    import json\n    if True:\n        from app import x\n"
        "class C:\n    import re\n    async def m(self):\n"
        "        def inner():\n            from .y import z\n"
    )
    assert function_level_imports(source) == [(10, "json"), (12, "app"), (17, ".y")]


def test_outside_the_two_boundaries_modules_import_at_the_top() -> None:
    wrong = []
    for name, found in lazy_imports().items():
        allowed = LAZY_ALLOWED.get(name, (frozenset(), ""))[0]
        if allowed is not None:
            wrong += [f"{name}:{line}: import {module}" for line, module in found if module not in allowed]
    # DESIGN.md: lazy imports only at the two boundaries (and the two light paths it does not
    # name, listed in LAZY_ALLOWED); everything else goes at the top of its module.
    assert wrong == []


def test_the_lazy_import_lists_name_only_what_is_there() -> None:
    """An entry no longer needed is removed, so the list only shrinks."""
    lazy = lazy_imports()
    stale: list[str] = []
    for name, (allowed, _why) in LAZY_ALLOWED.items():
        assert (APP.parent / name).is_file(), name
        if allowed is not None:
            stale += [f"{name}: {module}" for module in sorted(allowed - {m for _, m in lazy.get(name, [])})]
    assert stale == []
