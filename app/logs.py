"""The app's log file, and the filter that keeps token-shaped text out of it (and off the screen)."""

from __future__ import annotations

import logging
import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path

from app.mask import mask_secrets
from app.paths import display_path, log_dir, others_can_write

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


class LogRefused(PermissionError):
    """pi-tui will not log where it was asked to; ``str()`` is the sentence saying why and the fix."""


class _PrivateLogHandler(logging.StreamHandler):
    """Writes to a log file pi-tui opened itself (no link followed); closing closes the file."""

    def close(self) -> None:
        """Flush, then close the file."""
        try:
            self.flush()
            self.stream.close()
        finally:
            super().close()


def setup_logging(env: Mapping[str, str] | None = None, *, level: int = logging.INFO) -> Path:
    """Send pi-tui's logs to a private file in the log directory; returns its path.

    LogRefused (a PermissionError) when other users can change the log directory or the log
    is not a plain file of the user's (a link planted there is never followed); callers then
    run without a log.
    """
    directory = log_dir(env)
    refusal = others_can_write(directory, "keep its log")
    if refusal is not None:
        raise LogRefused(refusal)
    path = directory / LOG_NAME
    # Created 0600 (a log can name accounts and hosts), never through a link.
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        raise LogRefused(_not_a_log(path, "it is a symbolic link or cannot be opened")) from error
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise LogRefused(_not_a_log(path, "it is not a plain file of yours"))
    handler = _PrivateLogHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.addFilter(MaskSecretsFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    logger.addHandler(handler)
    logger.propagate = False
    return path


def _not_a_log(path: Path, why: str) -> str:
    return f"pi-tui keeps no log in {display_path(path)}: {why}. Remove it (rm {shlex.quote(str(path))})."
