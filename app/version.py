"""pi-tui's version: its own module, so that nothing imports the root package for it."""

__version__ = "0.1.0"
