"""pi-tui: OAuth logins for the pi coding agent (Claude Pro/Max, GitHub Copilot).

``from app import get_api_key`` is the library entry point; it is loaded on first use so
that ``import app`` (and with it ``pi-tui token``) stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "get_api_key", "get_credential"]


def __getattr__(name: str) -> Any:
    if name in ("get_api_key", "get_credential", "aget_credential", "Credential"):
        from app import api

        return getattr(api, name)
    raise AttributeError(f"module 'app' has no attribute {name!r}")
