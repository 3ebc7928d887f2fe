"""Server settings with the defaults a fresh install runs on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .auth import UserEntry
from .storage.base import DEFAULT_CHUNK_SIZE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2121
DEFAULT_ROOT = Path("ftp-root")


@dataclass
class ServerConfig:
    root: Path = DEFAULT_ROOT
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    users: dict[str, str] = field(default_factory=dict)  # name -> password (hashed at start)
    accounts: dict[str, UserEntry] = field(default_factory=dict)  # from a config file, already hashed
    allow_anonymous: bool = True
    read_only: bool = False
    show_hidden: bool = False
    # Limits.
    max_connections: int | None = None  # None: what the open-file limit allows (descriptors.py)
    max_connections_per_ip: int = 0  # 0: no limit
    idle_timeout: float = 300.0
    data_timeout: float = 30.0
    max_line_length: int = 4096
    passive_ports: tuple[int, int] | None = None  # None: any free port
    masquerade_address: str | None = None
    # Failed logins: a delay before each "530", then a temporary ban of the address.
    login_failure_delay: float = 1.0
    max_login_failures: int = 5  # within login_failure_window; 0 disables the ban
    login_failure_window: float = 300.0
    ban_seconds: float = 900.0
    # Bandwidth in bytes per second; 0: unlimited.
    max_session_rate: int = 0
    max_total_rate: int = 0
    shutdown_timeout: float = 30.0
    # Explicit FTPS (RFC 4217).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    # A PROT P data connection must resume the control connection's TLS session (vsftpd's
    # require_ssl_reuse): another client cannot take the transfer with a fresh handshake.
    tls_session_reuse: bool = True
    # Uploads are fsynced (file before the rename, folder after) before the 226.
    fsync: bool = True
    # Operations.
    log_level: str = "INFO"
    log_file: Path | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    banner: str = "aioftp_lite ready"
    use_sendfile: bool = True
    reuse_port: bool = False  # set in --workers processes: several listeners share the port

    def __post_init__(self) -> None:
        self.root = Path(self.root)
