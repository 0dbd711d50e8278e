"""The service layer: OAuth flows, refresh and token hand-out. Never imports Textual."""
