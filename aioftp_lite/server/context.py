"""What a session needs of the server it runs in (ServerContext in shared.py provides it).

A protocol rather than the class itself: the session depends on these few things, not on
the module that accepts connections and owns every session (which imports the session).
"""

from __future__ import annotations

from typing import Protocol

from ..auth import Account, Authenticator
from ..cluster.state import SharedState
from ..config import ServerConfig
from ..defender import LoginDefender
from ..events import EventBus
from ..hooks import Hooks
from ..storage.base import Storage
from ..tls import FTPSContext
from .datachannel import PassivePorts
from .proxied import ProxyPolicy
from .throttle import RateLimiter


class SessionContext(Protocol):
    config: ServerConfig
    authenticator: Authenticator
    defender: LoginDefender
    passive_ports: PassivePorts
    total_rate: RateLimiter | None
    tls: FTPSContext | None
    storage_type: type[Storage]  # what the sessions' storage can do, before any login (FEAT)
    state: SharedState  # failure scores, bans and counts: this process's, or a cluster's (Redis)
    proxy: ProxyPolicy | None  # PROXY protocol from a load balancer (--proxy-protocol)
    events: EventBus  # what happened, to the log, xferlog, metrics and hooks (events.py)
    hooks: Hooks | None  # for the hooks that may refuse an upload or a delete

    def storage_for(self, account: Account) -> Storage: ...
