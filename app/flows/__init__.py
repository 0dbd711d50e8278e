"""The ways a login happens (auth code + PKCE, device code). They know no provider and never save."""
