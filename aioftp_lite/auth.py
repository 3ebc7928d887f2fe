"""Accounts and the authenticator that the dispatcher asks; handlers never check passwords.

Passwords are kept as scrypt hashes (hashlib); verification runs in a worker thread
because scrypt is deliberately slow.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PERMISSIONS = frozenset({"list", "read", "write", "delete", "rename", "mkdir"})
READ_ONLY_PERMISSIONS = frozenset({"list", "read"})
ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
# Each check takes 16 MiB (128 * N * r) and tens of milliseconds. Checks get a small pool of
# their own: the memory a burst of logins leaves pinned in malloc's per-thread arenas stays
# bounded (not 16 MiB per default-executor thread, up to 32 of them), and file I/O in the
# default executor is never queued behind a flood of password guesses.
_PASSWORD_CHECKS = ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="password-check")


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, hex encoded."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


@dataclass(frozen=True)
class Account:
    """Who is logged in: the folder they see as `/` and what they may do there."""

    name: str
    home: Path
    permissions: frozenset[str] = PERMISSIONS
    anonymous: bool = False

    def may(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass
class UserEntry:
    password_hash: str
    home: Path | None = None  # None: the server root; relative: under the server root
    permissions: frozenset[str] = PERMISSIONS


@dataclass
class Authenticator:
    root: Path
    users: dict[str, UserEntry] = field(default_factory=dict)
    allow_anonymous: bool = True
    read_only: bool = False
    # Checked when the user does not exist, so that both cases cost the same scrypt run
    # (no password matches it: its digest is not the hash of anything).
    _decoy_hash: str = f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${'00' * 16}${'00' * 64}"

    def add_user(self, name: str, password: str, home: Path | None = None) -> None:
        self.users[name] = UserEntry(hash_password(password), home)

    def home_of(self, entry: UserEntry) -> Path:
        return self.root / entry.home if entry.home else self.root

    def is_anonymous_name(self, name: str) -> bool:
        return self.allow_anonymous and name.lower() in ANONYMOUS_NAMES and name not in self.users

    async def authenticate(self, name: str, password: str) -> Account | None:
        if self.is_anonymous_name(name):
            return self._account("anonymous", self.root, PERMISSIONS, anonymous=True)
        entry = self.users.get(name)
        encoded = entry.password_hash if entry else self._decoy_hash
        loop = asyncio.get_running_loop()
        valid = await loop.run_in_executor(_PASSWORD_CHECKS, verify_password, password, encoded)
        if entry is None or not valid:
            return None
        return self._account(name, self.home_of(entry), entry.permissions)

    def _account(
        self, name: str, home: Path, permissions: frozenset[str], anonymous: bool = False
    ) -> Account:
        if self.read_only:
            permissions = permissions & READ_ONLY_PERMISSIONS
        return Account(name, home, permissions, anonymous)
