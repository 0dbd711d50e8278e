"""pi-tui: OAuth logins for the pi coding agent (Claude Pro/Max, GitHub Copilot)."""

__version__ = "0.1.0"
