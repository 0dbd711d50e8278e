"""pi-tui: OAuth logins for the pi coding agent.

``from app import get_api_key`` (a valid token) and ``from app import PiAuth`` (an
``httpx.Auth`` for any provider) are the library entry points; they are loaded on first use
so that ``import app`` (and with it ``pi-tui token``) stays cheap.
"""

from __future__ import annotations

from app.version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PiAuth", "__version__", "get_api_key", "get_credential"]


def __getattr__(name: str) -> Any:
    if name in ("get_api_key", "get_credential", "aget_credential", "Credential"):
        from app import api

        return getattr(api, name)
    if name == "PiAuth":
        from app.auth import PiAuth

        return PiAuth
    raise AttributeError(f"module 'app' has no attribute {name!r}")
