"""File checksums on the control connection, without a download.

HASH (draft-ietf-ftpext2-hash): `OPTS HASH <algorithm>` chooses, `HASH <path>` answers
`213 <algorithm> 0-<size> <hex digest> <path>`; FEAT lists the algorithms, the session's
choice marked with `*`. WinSCP and others send the older one-algorithm commands instead
(XSHA256, XSHA1, XMD5, XCRC, as ProFTPD's mod_digest answers them: `250 <hex digest>`).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Protocol

DEFAULT_ALGORITHM = "SHA-256"
ALGORITHMS = ("SHA-1", "SHA-256", "SHA-512", "MD5", "CRC32")
ALIASES = {"XSHA1": "SHA-1", "XSHA256": "SHA-256", "XSHA512": "SHA-512", "XMD5": "MD5", "XCRC": "CRC32"}


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class Crc32:
    """zlib's CRC-32 with hashlib's interface; its digest is 8 hex digits."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def hexdigest(self) -> str:
        return f"{self._value:08x}"


def new_hasher(algorithm: str) -> Hasher:
    if algorithm == "CRC32":
        return Crc32()
    return hashlib.new(algorithm.replace("-", "").lower())


def choose_algorithm(text: str) -> str | None:
    """The algorithm named (any case, with or without the dash), or None if we have none such."""
    wanted = text.strip().upper().replace("-", "")
    return next((name for name in ALGORITHMS if name.replace("-", "") == wanted), None)


def feature_line(chosen: str = DEFAULT_ALGORITHM) -> str:
    """`HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32`: the FEAT line, the session's choice starred."""
    return "HASH " + ";".join(name + ("*" if name == chosen else "") for name in ALGORITHMS)


def format_hash_reply(algorithm: str, size: int, digest: str, path: str) -> str:
    return f"{algorithm} 0-{size} {digest} {path}"
