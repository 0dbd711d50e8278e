"""mypy holds every registered provider module to the whole contract (app/providers/checked.py),
the hooks a module assigns (``account = stored_account``, ``test = API.test``) as well as those
it defines."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.providers import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ROOT / "app" / "providers" / "checked.py"


def checked_names() -> set[str]:
    """The modules the ``CHECKED`` tuple names."""
    for node in ast.walk(ast.parse(CHECKED.read_text())):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "CHECKED":
            assert isinstance(node.value, ast.Tuple)
            return {element.id for element in node.value.elts if isinstance(element, ast.Name)}
    raise AssertionError("checked.py has no CHECKED tuple")


def test_every_registered_module_is_checked() -> None:
    modules = {info.module.removeprefix("app.providers.") for info in PROVIDERS.values()}
    assert checked_names() == modules


def mypy_with(tmp_path: Path, module: str, old: str, new: str) -> str:
    """mypy's report on a copy of app/ where ``module`` has ``new`` in place of ``old``."""
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "app" / "providers" / f"{module}.py"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "app"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    return run.stdout + run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        # An assigned hook with another hook's signature: (endpoints, entry), not (entry).
        ("openai", "account = stored_account\n", "account = bearer\n"),
        # The api_base OpenAI's and xAI's modules take from their OpenAICompatibleApi, without entry.
        (
            "openai_compatible",
            "def api_base(self, endpoints: Any, entry: Mapping[str, Any]) -> str:",
            "def api_base(self, endpoints: Any) -> str:",
        ),
    ],
)
def test_a_module_that_drifts_fails_mypy(tmp_path: Path, module: str, old: str, new: str) -> None:
    report = mypy_with(tmp_path, module, old, new)
    assert "app/providers/checked.py" in report and "Found 1 error in 1 file" in report


@pytest.mark.slow
def test_the_modules_as_they_are_pass_mypy(tmp_path: Path) -> None:
    report = mypy_with(tmp_path, "openai", "account = stored_account\n", "account = stored_account\n")
    assert "Success: no issues found" in report
