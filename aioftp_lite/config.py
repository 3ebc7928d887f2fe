"""Server settings with the defaults a fresh install runs on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .auth import UserEntry
from .defender import DEFAULT_SAFELIST
from .hooks import HookSpec
from .storage.base import DEFAULT_CHUNK_SIZE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2121
DEFAULT_ROOT = Path("ftp-root")
DEFAULT_MAX_CONNECTIONS_PER_IP = 50  # vsftpd's max_per_ip


@dataclass
class ServerConfig:
    root: Path = DEFAULT_ROOT
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    users: dict[str, str] = field(default_factory=dict)  # name -> password (hashed at start)
    accounts: dict[str, UserEntry] = field(default_factory=dict)  # from a config file, already hashed
    # "off", "read" or "write"; None: "write" while no named user is configured, else "off".
    anonymous: str | None = None
    read_only: bool = False
    show_hidden: bool = False
    # Names this server answers to in HOST (RFC 7151); empty: any well-formed name.
    hosts: tuple[str, ...] = ()
    # Limits.
    max_connections: int | None = None  # None: what the open-file limit allows (descriptors.py)
    # None: DEFAULT_MAX_CONNECTIONS_PER_IP, except for safelisted addresses; 0: no limit.
    max_connections_per_ip: int | None = None
    max_connections_per_user: int = 0  # sessions logged in as one account at once; 0: no limit
    idle_timeout: float = 300.0
    data_timeout: float = 30.0
    max_line_length: int = 4096
    passive_ports: tuple[int, int] | None = None  # None: any free port
    masquerade_address: str | None = None
    # Failed logins: a delay before each "530", then a temporary ban of the address;
    # bans escalate from first_ban_seconds, doubling, up to ban_seconds.
    login_failure_delay: float = 1.0
    max_login_failures: int = 5  # within login_failure_window; 0 disables the ban
    login_failure_window: float = 300.0
    first_ban_seconds: float = 60.0
    ban_seconds: float = 900.0
    ban_safelist: tuple[str, ...] = DEFAULT_SAFELIST  # never banned, no default per-address limit
    # Slow password hashes: at most this share of one core's time, then logins queue.
    login_hash_cpu: float = 0.25
    login_queue: int = 64  # logins waiting for the hash at most; beyond: 421
    login_queue_wait: float = 10.0  # seconds a login may wait for the hash; then 421
    # Bandwidth in bytes per second; 0: unlimited.
    max_session_rate: int = 0
    max_total_rate: int = 0
    max_hash_size: int = 0  # bytes: HASH/XSHA256/... refuse larger files (550); 0: no limit
    shutdown_timeout: float = 30.0
    # Explicit FTPS (RFC 4217).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    implicit_tls_port: int | None = None  # implicit FTPS (TLS from the first byte) here too
    # A PROT P data connection must resume the control connection's TLS session (vsftpd's
    # require_ssl_reuse): another client cannot take the transfer with a fresh handshake.
    tls_session_reuse: bool = True
    # Uploads are fsynced (file before the rename, folder after) before the 226.
    fsync: bool = True
    # Operations.
    log_level: str = "INFO"
    log_file: Path | None = None
    log_format: str = "text"  # or "json": one object per line
    xferlog: Path | None = None  # the wu-ftpd/vsftpd transfer log (xferlog.py)
    metrics_listen: tuple[str, int] | None = None  # Prometheus /metrics here (metrics.py)
    hooks: tuple[HookSpec, ...] = ()  # [[hooks]] of the config file (hooks.py)
    hook_concurrency: int = 4  # hooks running at once
    hook_queue: int = 1000  # hooks waiting at most; beyond, an event's hooks are dropped (logged)
    hook_timeout: float = 10.0  # seconds, for a Python callback (a [[hooks]] table has its own)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    banner: str = "aioftp_lite ready"
    use_sendfile: bool = True
    reuse_port: bool = False  # set in --workers processes: several listeners share the port
    # Where files live: "local" (the root folder) or "s3" (a bucket; credentials from the
    # AWS_* environment variables). Homes of named users are folders under the prefix.
    storage_backend: str = "local"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint: str | None = None  # None: AWS itself (or AWS_ENDPOINT_URL)
    s3_region: str | None = None  # None: AWS_REGION
    s3_part_size: int = 8 * 1024 * 1024
    s3_timeout: float = 30.0  # seconds, for each request to the store
    # Behind a load balancer (docs/cluster.md): the PROXY protocol header from these senders
    # gives the client's address; a cluster's shared state (bans, counts) in Redis.
    proxy_protocol: bool = False
    proxy_trusted: tuple[str, ...] = ("127.0.0.0/8", "::1")
    proxy_header_timeout: float = 5.0
    state_url: str | None = None  # redis://HOST:PORT/DB; None: this process's own store
    state_timeout: float = 1.0  # seconds, for each request to the shared store
    state_node_ttl: float = 15.0  # a node that stops (crash) has its counts forgotten after this

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.ban_safelist = tuple(self.ban_safelist)
        self.hosts = tuple(self.hosts)
        self.proxy_trusted = tuple(self.proxy_trusted)
        self.hooks = tuple(self.hooks)

    @property
    def anonymous_access(self) -> str:
        """The anonymous mode in force: "off", "read" or "write"."""
        if self.anonymous is not None:
            return self.anonymous
        return "off" if self.users or self.accounts else "write"

    @property
    def storage_location(self) -> str:
        """What is served, for the start-up line: the root folder or s3://BUCKET/PREFIX."""
        if self.storage_backend == "s3":
            return f"s3://{self.s3_bucket}/{self.s3_prefix}".rstrip("/")
        return str(self.root)

    @property
    def url_scheme(self) -> str:
        return "ftpes" if self.tls_cert is not None else "ftp"

    def access_summary(self, most_names: int = 5) -> str:
        """Who may log in, for the start-up line: `users: alice, bob; anonymous: read-only`."""
        names = sorted({*self.users, *self.accounts})
        anonymous = self.anonymous_access
        if anonymous != "off":
            anonymous = "read-only" if anonymous == "read" or self.read_only else "read-write"
        parts = []
        if names:
            shown = ", ".join(names[:most_names])
            more = f" and {len(names) - most_names} more" if len(names) > most_names else ""
            parts.append(f"users: {shown}{more}" + (" (read-only)" if self.read_only else ""))
        parts.append(f"anonymous: {anonymous}")
        return "; ".join(parts)


class UsageError(Exception):
    """A mistake in what the operator asked for: one line, exit status 2."""
