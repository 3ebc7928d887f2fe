"""Accounts and the authenticator that the dispatcher asks; handlers never check passwords.

A named account's password is kept as a slow hash (passwords.py). A password that verified
once is remembered as a keyed digest, so the next login with it costs microseconds; every
other check goes through the slow-hash budget, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from .passwords import DECOY_HASH, SlowHashBudget, VerifiedCredentials, hash_password, verify_password

PERMISSIONS = frozenset({"list", "read", "write", "delete", "rename", "mkdir"})
READ_ONLY_PERMISSIONS = frozenset({"list", "read"})
ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})
# Who may log in without a password: nobody, readers, or readers and writers.
ANONYMOUS_MODES = ("off", "read", "write")


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
    anonymous: str = "write"  # one of ANONYMOUS_MODES
    read_only: bool = False
    credentials: VerifiedCredentials = field(default_factory=VerifiedCredentials)
    budget: SlowHashBudget = field(default_factory=SlowHashBudget)
    _accounts: dict[str, Account] = field(default_factory=dict)  # made once per user
    _checks: dict[bytes, asyncio.Future[bool]] = field(default_factory=dict)  # slow checks running
    _waiting: dict[bytes, int] = field(default_factory=dict)  # logins waiting for each

    def add_user(self, name: str, password: str, home: Path | None = None) -> None:
        self.users[name] = UserEntry(hash_password(password), home)

    def reload(self, users: dict[str, UserEntry], anonymous: str, read_only: bool) -> None:
        """New accounts and rights (a reloaded config); no password remembered from before."""
        self.users, self.anonymous, self.read_only = users, anonymous, read_only
        self.credentials.clear()
        self._accounts.clear()

    def home_of(self, entry: UserEntry) -> Path:
        return self.root / entry.home if entry.home else self.root

    def _is_anonymous(self, name: str) -> bool:
        return name.lower() in ANONYMOUS_NAMES and name not in self.users

    def is_anonymous_name(self, name: str) -> bool:
        """An anonymous login that is allowed."""
        return self.anonymous != "off" and self._is_anonymous(name)

    def refuses_anonymous(self, name: str) -> bool:
        """An anonymous login while anonymous access is off."""
        return self.anonymous == "off" and self._is_anonymous(name)

    async def authenticate(
        self, name: str, password: str, address: str = "", safelisted: bool = False
    ) -> Account | None:
        """The account, or None for a wrong name or password.

        Raises `ServerBusy` when the slow hash is over its budget for longer than a login
        may wait. `address` is the client's, so that one address cannot fill the queue
        (unless `safelisted`). Logins that offer the same name and password while one
        check of it runs share that check: a hundred clients of one account logging in
        at once after a start cost one slow hash, not a hundred.
        """
        if self.is_anonymous_name(name):
            return self._account("anonymous")
        entry = self.users.get(name)
        encoded = entry.password_hash if entry is not None else DECOY_HASH
        if entry is not None and self.credentials.knows(name, encoded, password):
            return self._account(name)
        key = self.credentials.digest(name, encoded, password)
        check = self._checks.get(key)
        if check is None:
            check = asyncio.ensure_future(
                self.budget.run(address, verify_password, password, encoded, capped=not safelisted)
            )
            self._checks[key] = check
            self._waiting[key] = 0
            check.add_done_callback(lambda done: self._check_done(key, done))
        self._waiting[key] += 1
        try:
            valid = await asyncio.shield(check)
        finally:
            if key in self._waiting:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    # Every login that asked has gone (hung up while queued): a queued check
                    # is dropped, one already hashing finishes on its own.
                    check.cancel()
        # A reload while the hash ran may have changed or removed the account: the password
        # was checked against what is no longer its hash.
        current = self.users.get(name)
        if entry is None or not valid or current is None or current.password_hash != encoded:
            return None
        self.credentials.remember(name, encoded, password)
        return self._account(name)

    def _check_done(self, key: bytes, check: asyncio.Future[bool]) -> None:
        self._checks.pop(key, None)
        self._waiting.pop(key, None)
        if not check.cancelled():
            check.exception()  # retrieved here too: every login waiting for it may have gone

    def _account(self, name: str) -> Account:
        account = self._accounts.get(name)
        if account is None:
            if name == "anonymous" and self._is_anonymous(name):
                permissions = PERMISSIONS if self.anonymous == "write" else READ_ONLY_PERMISSIONS
                account = Account("anonymous", self.root, permissions, anonymous=True)
            else:
                entry = self.users[name]
                account = Account(name, self.home_of(entry), entry.permissions)
            if self.read_only:
                account = Account(account.name, account.home, account.permissions & READ_ONLY_PERMISSIONS,
                                  account.anonymous)  # fmt: skip
            self._accounts[name] = account
        return account
