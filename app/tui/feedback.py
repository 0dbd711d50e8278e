"""Turn what went wrong into a sentence for the screen: never a traceback, never a token."""

from __future__ import annotations

import logging

from app.errors import PiTuiError
from app.mask import mask_secrets
from app.sanitize import for_display

log = logging.getLogger("pi_tui.tui")


def describe(error: BaseException) -> str:
    """The sentence to show for ``error``; unexpected ones are logged with their traceback."""
    if isinstance(error, PiTuiError):
        return mask_secrets(str(error))
    log.error("unexpected error", exc_info=error)
    detail = for_display(mask_secrets(str(error)) or type(error).__name__, limit=200)
    return f"Unexpected error: {detail}"
