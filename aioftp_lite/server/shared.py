"""What every session of one server shares: settings, accounts and the login defence,
shared state, passive ports, rate limits, TLS, the event bus and the storage.

The listener (server.py) makes one and hands it to each session, which sees it through
the `SessionContext` protocol (context.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..auth import Account, Authenticator, UserEntry
from ..cluster.state import LocalState, SharedState
from ..config import ServerConfig
from ..defender import LoginDefender
from ..events import EventBus
from ..hooks import Hooks
from ..passwords import SlowHashBudget, hash_password
from ..storage.base import Storage
from ..storage.homes import LocalHomes
from ..tls import server_context
from .datachannel import PassivePorts
from .proxied import ProxyPolicy
from .session import log_data_sent
from .throttle import RateLimiter

StorageFactory = Callable[[Account], Storage]


class ServerContext:
    """What every session shares: settings, accounts, passive ports, storage."""

    def __init__(self, config: ServerConfig, storage_factory: StorageFactory | None) -> None:
        self.config = config
        self.authenticator = Authenticator(
            root=config.root,
            budget=SlowHashBudget(
                config.login_hash_cpu, max_waiting=config.login_queue, max_wait=config.login_queue_wait
            ),
        )
        self.defender = LoginDefender()
        self.state: SharedState = LocalState(self.defender)
        if config.state_url is not None:
            from ..cluster.redis_state import RedisState  # only cluster nodes need redis-py

            self.state = RedisState(
                config.state_url, self.defender, config.state_timeout, config.state_node_ttl
            )
        self._user_entries: dict[str, tuple[str, UserEntry]] = {}  # --user name: (password, entry)
        self._storage_factory = storage_factory
        # Without a factory, the local disk: its storages are made when the accounts are configured.
        self._local_homes = LocalHomes(config.chunk_size, config.fsync)
        # What the sessions' storage can do, known before any login (FEAT asks it).
        self.storage_type: type[Storage] = self._local_homes.storage_type
        self.apply_accounts_and_limits(config)
        self.passive_ports = PassivePorts(config.passive_ports)
        self.total_rate = RateLimiter(config.max_total_rate) if config.max_total_rate else None
        self.tls = server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        self.proxy = (
            ProxyPolicy(config.proxy_trusted, config.proxy_header_timeout) if config.proxy_protocol else None
        )
        self.events = EventBus()  # its sinks: the transfer log line, and what Server.start adds
        self.events.sinks.append(log_data_sent)
        self.hooks: Hooks | None = None

    def apply_accounts_and_limits(self, config: ServerConfig) -> None:
        """Accounts, anonymous access and the login defence from `config` (at start and on a
        reload). Blocking: a --user password not seen before is hashed here."""
        users = dict(config.accounts)
        for name, password in config.users.items():
            known = self._user_entries.get(name)
            if known is None or known[0] != password:
                known = password, UserEntry(hash_password(password))
                self._user_entries[name] = known
            users[name] = known[1]
        self.authenticator.reload(users, config.anonymous_access, config.read_only)
        if self._storage_factory is None:
            self.open_local_storages()
        budget = self.authenticator.budget
        budget.cpu_share, budget.max_waiting, budget.max_wait = (
            config.login_hash_cpu,
            config.login_queue,
            config.login_queue_wait,
        )
        self.defender.configure(
            config.max_login_failures, config.login_failure_window, config.ban_seconds,
            config.first_ban_seconds, config.ban_safelist,
        )  # fmt: skip

    def storage_for(self, account: Account) -> Storage:
        if self._storage_factory is not None:
            return self._storage_factory(account)
        return self._local_homes.storage_for(account.home)

    def open_local_storages(self) -> None:
        """Open the root and every configured home now (blocking; a missing home is made): a
        server that later runs out of file descriptors still lets its users log in."""
        authenticator = self.authenticator
        self._local_homes.open({self.config.root, *map(authenticator.home_of, authenticator.users.values())})

    def close_storages(self) -> None:
        """Let go of the local storages' root descriptors (so their disk can be unmounted)."""
        self._local_homes.close()
