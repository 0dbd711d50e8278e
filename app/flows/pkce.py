"""PKCE (RFC 7636, method S256) and the OAuth ``state`` value."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


def b64url(data: bytes) -> str:
    """Base64url without padding, as RFC 7636 requires."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_for(verifier: str) -> str:
    """The S256 challenge of ``verifier``: base64url(SHA-256(verifier))."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Pkce:
    """A verifier/challenge pair plus an independent ``state``.

    The state is its own random value so the verifier never travels in a URL.
    """

    verifier: str = field(repr=False)
    challenge: str
    state: str = field(repr=False)

    @classmethod
    def generate(cls) -> Pkce:
        """Fresh 32-byte verifier and 32-byte state."""
        verifier = b64url(secrets.token_bytes(32))
        return cls(
            verifier=verifier,
            challenge=challenge_for(verifier),
            state=b64url(secrets.token_bytes(32)),
        )
