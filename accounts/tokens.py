"""Capability tokens: team invite links and share links.

A token is 256 bits from `secrets`, shown once in a URL; only its SHA-256 is stored. A plain
hash is enough here (no salt, no slow hash): the token is random and long, so there is nothing
to guess or look up in a table, and looking a token up by its hash keeps every check to one
indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Any string hashes, so a tampered or malformed token costs the same as a real one.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
