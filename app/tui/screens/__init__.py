"""One screen per module."""

from pathlib import Path

# The rules of every screen but the status panel: read with the first of them (see app.tcss).
SCREENS_CSS = Path(__file__).with_name("screens.tcss")
