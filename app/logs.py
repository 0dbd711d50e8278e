"""The app's log file, and the filter that keeps token-shaped text out of it (and off the screen)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from app.mask import mask_secrets
from app.paths import log_dir

LOG_NAME = "pi-tui.log"
LOGGER = "pi_tui"


class MaskSecretsFilter(logging.Filter):
    """Masks tokens in a record's message and traceback before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


def setup_logging(env: Mapping[str, str] | None = None, *, level: int = logging.INFO) -> Path:
    """Send pi-tui's logs to a private file in the log directory; returns its path."""
    path = log_dir(env) / LOG_NAME
    # Create it 0600 before logging opens it: a log can name accounts and hosts.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(MaskSecretsFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    logger.addHandler(handler)
    logger.propagate = False
    return path
