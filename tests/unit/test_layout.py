"""The layout's promises: no import cycles in app/, the core never reaches Textual, and
nothing outside app/providers/ names a provider."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.providers import PROVIDERS

APP = Path(__file__).resolve().parents[2] / "app"
CORE = ("app.flows", "app.store", "app.providers", "app.service", "app.credentials")
NAMES_ALLOWED = {
    # Token shapes to mask wherever they appear (github_pat_…), not provider logic.
    "app/mask.py",
    # Still explains the Anthropic login in words; the help screen is rewritten in issue 11.
    "app/tui/screens/help.py",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every app module, the root package included, and the app modules it imports (at any
    depth of the file, lazily or not)."""
    modules = {module_name(p): p for p in APP.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base])
                base = base.strip(".")
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imports only for type hints)."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_of_app_has_no_cycle() -> None:
    graph = import_graph()
    assert graph.get("app.service")  # the parse found something
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_root_package_is_in_the_import_graph() -> None:
    graph = import_graph()
    assert "app.api" in graph["app"]  # its lazy re-exports count
    assert not any("app" in targets for targets in graph.values())  # nothing imports the root


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_never_imports_textual_even_lazily() -> None:
    core = [p for p in APP.rglob("*.py") if module_name(p).startswith(CORE)]
    assert len(core) >= 8
    for path in core:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "textual" or n.startswith(("textual.", "app.tui")) for n in names), path


# Words in provider names that name no provider ("OpenRouter OAuth", "Kimi Code (subscription)", "Plus/Pro").
GENERIC_WORDS = {"oauth", "subscription", "plus", "code"}


def provider_words() -> re.Pattern[str]:
    words = set()
    for info in PROVIDERS.values():
        words |= {info.id, info.id.replace("-", "_"), info.name}
        words |= {part for part in re.split(r"[ ()/]+", info.name) if len(part) > 3}
    words = {w for w in words if w.lower() not in GENERIC_WORDS}
    # Whole words only: "meta" is a provider, "metavar" and an HTML <meta> tag are not.
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_<])(?:{alternatives})(?![A-Za-z0-9_])", re.IGNORECASE)


def test_nothing_outside_the_providers_package_names_a_provider() -> None:
    pattern = provider_words()
    found = []
    for path in sorted(APP.rglob("*")):
        relative = path.relative_to(APP.parent).as_posix()
        if path.suffix not in (".py", ".tcss") or relative.startswith("app/providers/"):
            continue
        if relative in NAMES_ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize("word", ["anthropic", "GitHub Copilot", "github_copilot", "Claude"])
def test_the_provider_name_pattern_catches_ids_and_names(word: str) -> None:
    assert provider_words().search(f"x = {word!r}")


def test_only_the_registry_names_providers_inside_its_package() -> None:
    text = (APP / "providers" / "__init__.py").read_text()
    for info in PROVIDERS.values():
        assert text.count(f'"{info.id}"') == 2  # the key and the id of its one entry
