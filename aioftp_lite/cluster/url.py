"""The shared store's address, checked without the Redis library."""

from __future__ import annotations

from urllib.parse import urlsplit


def check_state_url(text: str) -> str:
    """`redis://[USER:PASSWORD@]HOST[:PORT][/DB]` (or `rediss://` for TLS); raises ValueError."""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises for a port that is not a number 0-65535
    except ValueError as error:
        raise ValueError(f"bad state URL {text!r}: {error}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"expected redis://HOST:PORT/DB, got {text!r}")
    if not parts.hostname:
        raise ValueError(f"no host in state URL {text!r}")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database in {text!r} is not a number")
    if port == 0:
        raise ValueError(f"port 0 in state URL {text!r}")
    return text
