"""A session's state in small named parts, each with its own reset; handlers change the
session's state through these, never field by field on the session."""

from __future__ import annotations

from ..auth import Account
from ..protocol.hashes import DEFAULT_ALGORITHM
from ..protocol.listing import ALL_FACTS
from ..storage.base import Storage


class LoginState:
    """Who is logged in (or half-way: USER sent), and the storage of that account."""

    __slots__ = ("account", "counted_user", "pending_user", "storage", "virtual_host")

    def __init__(self) -> None:
        self.pending_user: str | None = None  # USER accepted, PASS awaited
        self.account: Account | None = None
        self.storage: Storage | None = None
        self.virtual_host: str | None = None  # HOST (RFC 7151), before the login; outlives a reset
        # The account this session counts for in the per-user limits (handlers/login.py);
        # released by a new USER or the session's end, not by a reset.
        self.counted_user: str | None = None

    def reset(self) -> None:
        """Nobody logged in and no USER pending: a new USER, or a new security context (AUTH)."""
        self.pending_user = None
        self.account = None
        self.storage = None

    def expect_password(self, name: str) -> None:
        self.pending_user = name

    def take_pending_user(self) -> str | None:
        """The name USER gave, which one PASS consumes."""
        name, self.pending_user = self.pending_user, None
        return name

    def complete(self, account: Account, storage: Storage) -> None:
        self.pending_user = None
        self.account = account
        self.storage = storage

    @property
    def begun(self) -> bool:
        """USER was sent (HOST must come before)."""
        return self.account is not None or self.pending_user is not None

    @property
    def user_name(self) -> str:
        """For log lines: the account's name, or "-"."""
        return self.account.name if self.account is not None else "-"


class TransferParameters:
    """What the client chose for the commands that follow: TYPE, REST, EPSV ALL, and the
    OPTS choices for MLST facts and the HASH algorithm."""

    __slots__ = ("ascii_mode", "epsv_all", "hash_algorithm", "mlst_facts", "restart_offset")
    ascii_mode: bool
    restart_offset: int
    epsv_all: bool
    mlst_facts: tuple[str, ...]
    hash_algorithm: str

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """The defaults of a new connection."""
        self.ascii_mode = True  # RFC 959: TYPE A is the default
        self.restart_offset = 0
        self.epsv_all = False  # after EPSV ALL only EPSV may set up data connections
        self.mlst_facts = ALL_FACTS
        self.hash_algorithm = DEFAULT_ALGORITHM

    def take_restart_offset(self) -> int:
        """REST's offset, for the one transfer that follows it."""
        offset, self.restart_offset = self.restart_offset, 0
        return offset

    @property
    def mode_name(self) -> str:
        return "ASCII" if self.ascii_mode else "BINARY"


class SecurityState:
    """FTPS (RFC 4217): TLS on the control connection after AUTH, on data after PBSZ and PROT P."""

    __slots__ = ("control_tls", "protect_data", "protection_buffer_set")

    def __init__(self, control_tls: bool) -> None:
        self.control_tls = control_tls  # already TLS on the implicit FTPS port
        self.protection_buffer_set = False
        self.protect_data = False

    def reset(self) -> None:
        """A new TLS session on the control connection: PBSZ and PROT are to be sent again."""
        self.protection_buffer_set = False
        self.protect_data = False

    def control_secured(self) -> None:
        self.control_tls = True
        self.reset()
