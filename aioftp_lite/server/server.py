"""The listening server: accept control connections, apply connection limits, shut down.

async with Server(root="ftp-root", host="127.0.0.1", port=0) as server:
    print(server.port)
    await server.serve_forever()
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Self

from ..auth import Account
from ..cluster.state import address_key
from ..config import DEFAULT_MAX_CONNECTIONS_PER_IP, ServerConfig
from ..events import ConnectionAccepted, ConnectionRefused, SessionClosed, TLSHandshake
from ..hooks import Hooks
from ..protocol.addresses import normalize_host
from ..protocol.replies import Code, Reply
from ..storage.base import Storage
from ..storage.homes import LocalHomes
from . import handlers  # noqa: F401 - registers every command in the table
from .control import ControlConnection
from .descriptors import AcceptFailureLog, connection_limit, raise_open_file_limit
from .handlers.login import release_user
from .proxied import ProxyHeaderReader
from .session import Session
from .shared import ServerContext, StorageFactory

log = logging.getLogger("aioftp_lite.server")

# Settings a reload (SIGHUP) applies to the running server and its sessions.
RELOADABLE = frozenset({
    "users", "accounts", "anonymous", "read_only", "show_hidden", "banner", "log_level",
    "max_connections", "max_connections_per_ip", "idle_timeout", "data_timeout", "max_line_length",
    "login_failure_delay", "max_login_failures", "login_failure_window", "first_ban_seconds",
    "ban_seconds", "ban_safelist", "login_hash_cpu", "login_queue", "login_queue_wait",
    "shutdown_timeout", "masquerade_address", "max_connections_per_user",
})  # fmt: skip


class Server:
    """An FTP server on the running event loop; one task per control connection."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        storage_factory: StorageFactory | None = None,
        hooks: object = None,
        metrics_endpoint: bool = True,
        **settings: Any,
    ) -> None:
        """`hooks`: an object or a mapping of async callbacks (hooks.py); `metrics_endpoint`
        False: count metrics (metrics_listen) without serving them (a --workers worker)."""
        self.config = replace(config or ServerConfig(), **settings)
        self._storage_factory = storage_factory
        self._hooks = (
            Hooks(
                hooks,
                self.config.hooks,
                concurrency=self.config.hook_concurrency,
                queue=self.config.hook_queue,
                timeout=self.config.hook_timeout,
            )
            if hooks is not None or self.config.hooks
            else None
        )
        self._serve_metrics = metrics_endpoint
        self.metrics: Any = None  # metrics.Metrics with metrics_listen
        self._metrics_endpoint: Any = None
        self._xferlog: Any = None
        self._closing = False
        self.context: ServerContext | None = None
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], Session] = {}
        self._idle_sweep: asyncio.TimerHandle | None = None
        self.max_connections = self.config.max_connections or 0  # settled at start()
        self._derived_max_connections = 0  # what the open-file limit allows
        self._accept_failures: AcceptFailureLog | None = None
        self._implicit_server: asyncio.Server | None = None

        self._s3_client: Any = None  # the shared client of an S3-backed server

    # --- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Raises OSError if the port cannot be had, StoreError if the bucket cannot be used."""
        if self._storage_factory is None and self.config.storage_backend == "s3":
            self._storage_factory = await self._open_bucket()
        if self.config.implicit_tls_port is not None and self.config.tls_cert is None:
            raise ValueError("implicit_tls_port needs tls_cert")
        descriptors = raise_open_file_limit()  # for the whole process, as nginx does
        self._derived_max_connections = connection_limit(descriptors)
        if self.config.max_connections is None:
            self.max_connections = self._derived_max_connections
        if self._storage_factory is None:
            await asyncio.to_thread(LocalHomes.prepare_root, Path(self.config.root))
        # Built here: hashing the --user passwords is slow on purpose, keep it off __init__.
        self.context = await asyncio.to_thread(ServerContext, self.config, self._storage_factory)
        await self.context.state.start()  # never fails: an unreachable shared store is retried
        self._add_event_sinks(self.context)
        if self._s3_client is not None:
            from ..storage.s3 import S3Storage

            self.context.storage_type = S3Storage
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection,
            self.config.host,
            self.config.port,
            reuse_address=True,
            reuse_port=self.config.reuse_port or None,
            start_serving=False,
        )
        for listener in self._server.sockets:
            # ftplib and others send ABOR's last byte as urgent data; keep it in the stream.
            # Accepted connections inherit the option: one call here, none per connection.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
        self._accept_failures = AcceptFailureLog(loop)
        loop.set_exception_handler(self._accept_failures)
        await self._server.start_serving()
        await self._listen_implicit_tls()
        self._schedule_idle_sweep()
        log.info("listening on %s", ", ".join(self.addresses))
        if self.config.max_connections is None:
            log.info(
                "connection limit %s (from %s open files; --max-connections sets it)",
                self.max_connections or "none",
                descriptors if descriptors is not None else "unlimited",
            )

    def _add_event_sinks(self, context: ServerContext) -> None:
        """The xferlog, the metrics and the hooks, as configured, listen to the server's events."""
        if self.config.xferlog is not None:
            from ..xferlog import XferLog

            self._xferlog = XferLog(self.config.xferlog)
            context.events.sinks.append(self._xferlog)
        if self.config.metrics_listen is not None:
            from ..metrics import Endpoint, Metrics  # only servers with metrics need prometheus_client

            self.metrics = Metrics()
            context.events.sinks.append(self.metrics)
            self.metrics.sample_passive_ports(lambda: context.passive_ports.in_use)
            if self._serve_metrics:
                self._metrics_endpoint = Endpoint(self.metrics.registry, *self.config.metrics_listen)
        if self._hooks is not None:
            context.hooks = self._hooks
            context.events.sinks.append(self._hooks)

    @property
    def metrics_port(self) -> int:
        assert self._metrics_endpoint is not None, "metrics_listen is not set"
        return int(self._metrics_endpoint.port)

    def reopen_logs(self) -> None:
        """SIGHUP: open the xferlog by its name again (logrotate moved it)."""
        if self._xferlog is not None:
            self._xferlog.reopen()

    async def _listen_implicit_tls(self) -> None:
        """Implicit FTPS (`--implicit-tls-port`, 990 by convention): TLS from the first byte,
        beside the explicit port; sessions there start as after AUTH TLS."""
        port = self.config.implicit_tls_port
        if port is None:
            return
        assert self.context is not None and self.context.tls is not None
        limit = self.config.max_line_length
        # Plain TCP here; each session's handshake runs with a TLS context of its own
        # (see _serve), so its data connections can be held to resuming its session (tls.py).
        self._implicit_server = await asyncio.get_running_loop().create_server(
            lambda: ControlConnection(self._connection_made, limit, implicit_tls=True),
            self.config.host, port, reuse_address=True, reuse_port=self.config.reuse_port or None,
        )  # fmt: skip
        for listener in self._implicit_server.sockets:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)

    @property
    def implicit_tls_addresses(self) -> list[str]:
        return _addresses(self._implicit_server.sockets) if self._implicit_server is not None else []

    async def _open_bucket(self) -> StorageFactory:
        """One S3 client for every session, checked now; each home is a folder under the prefix."""
        from ..storage.s3 import S3Settings, S3Storage, open_s3  # only S3 servers import the client

        config = self.config
        settings = S3Settings.from_config(config)
        client = self._s3_client = await open_s3(settings)
        storages: dict[Path, S3Storage] = {}

        def storage_for(account: Account) -> Storage:
            storage = storages.get(account.home)
            if storage is None:
                try:
                    home = account.home.relative_to(config.root).parts
                except ValueError:
                    home = account.home.parts[1:]
                prefix = "/".join(part for part in (config.s3_prefix, *home) if part not in ("", ".", ".."))
                storage = storages[account.home] = S3Storage(
                    client, prefix, config.chunk_size, config.s3_part_size
                )
            return storage

        return storage_for

    async def reload(self, config: ServerConfig) -> list[str]:
        """Take accounts and limits from `config` without dropping a session (SIGHUP).

        Returns the names of changed settings that only a restart applies (where it listens,
        what it serves, TLS, passive ports)."""
        assert self.context is not None, "call start() first"
        changed = {f.name for f in fields(ServerConfig)
                   if getattr(config, f.name) != getattr(self.config, f.name)}  # fmt: skip
        for name in changed & RELOADABLE:
            # Sessions share this config object: a limit changed here holds for them at once.
            setattr(self.config, name, getattr(config, name))
        await asyncio.to_thread(self.context.apply_accounts_and_limits, self.config)
        configured = self.config.max_connections
        self.max_connections = self._derived_max_connections if configured is None else configured
        if self._idle_sweep is None and self._server is not None and self._server.is_serving():
            self._schedule_idle_sweep()  # a timeout set where there was none
        return sorted(changed - RELOADABLE)

    async def serve_forever(self) -> None:
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    async def close(self, timeout: float | None = None) -> None:
        """Graceful shutdown: stop accepting, send idle sessions 421, let running
        transfers finish for up to `timeout` seconds (default: the shutdown_timeout
        setting), then cut what is left (an unfinished upload is dropped, never
        left under its final name)."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        self._closing = True
        if self._server is not None:
            self._server.close()
        if self._implicit_server is not None:
            self._implicit_server.close()
        if self._idle_sweep is not None:
            self._idle_sweep.cancel()
            self._idle_sweep = None
        sessions = dict(self._sessions)
        for session in sessions.values():
            session.begin_shutdown()
        if sessions:
            _done, pending = await asyncio.wait(sessions, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()
        if self._accept_failures is not None:
            loop = asyncio.get_running_loop()
            if loop.get_exception_handler() is self._accept_failures:
                loop.set_exception_handler(self._accept_failures.previous)
            self._accept_failures = None
        if self.metrics is not None:
            self.metrics.stop()
        if self._metrics_endpoint is not None:
            await asyncio.to_thread(self._metrics_endpoint.close)
            self._metrics_endpoint = None
        if self._hooks is not None:
            await self._hooks.close()
        if self._xferlog is not None:
            self._xferlog.close()
            self._xferlog = None
        if self.context is not None:
            await self.context.state.close()
            self.context.authenticator.budget.close()
            self.context.close_storages()
        if self._s3_client is not None:
            await self._s3_client.close()
            self._s3_client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- where it listens -----------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "call start() first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def addresses(self) -> list[str]:
        assert self._server is not None
        return _addresses(self._server.sockets)

    # --- connections ----------------------------------------------------------------
    def _new_connection(self) -> asyncio.Protocol:
        control = ControlConnection(self._connection_made, self.config.max_line_length)
        if self.context is not None and self.context.proxy is not None:
            return ProxyHeaderReader(control, self.context.proxy)
        return control

    def _connection_made(self, control: ControlConnection) -> None:
        asyncio.get_running_loop().create_task(self._serve(control))

    async def _serve(self, control: ControlConnection) -> None:
        """A client connected: refuse it, or run its session.

        The limits are checked here, a loop turn after the accept, not in connection_made:
        by then the loop has seen every end of stream that arrived with the new connection."""
        assert self.context is not None
        peer = control.source or control.transport.get_extra_info("peername")
        if not peer:  # reset before we got to it
            control.transport.abort()
            return
        peer_host = peer[0]
        if control.awaits_tls:
            assert self.context.tls is not None
            try:
                await control.start_tls(self.context.tls.for_connection(), self.config.data_timeout or None)
            except OSError as error:  # ssl.SSLError, a timeout, a reset
                log.info(
                    "%s:%s no TLS handshake on the implicit FTPS port: %s", *peer[:2], error or "timed out"
                )
                self.context.events.emit(
                    TLSHandshake(f"{normalize_host(peer_host)}:{peer[1]}", False, str(error))
                )
                control.transport.abort()
                return
            self.context.events.emit(TLSHandshake(f"{normalize_host(peer_host)}:{peer[1]}", True))
        refusal = await self._refusal(peer_host)  # counts the connection if it is let in
        if refusal is not None:
            reason, reply = refusal
            self.context.events.emit(ConnectionRefused(f"{normalize_host(peer_host)}:{peer[1]}", reason))
            control.say_goodbye(reply.encode())
            return
        session = Session(self.context, control, peer)
        self.context.events.emit(ConnectionAccepted(session.peer))
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = session
        try:
            await session.run()
        except asyncio.CancelledError:
            # close() cut the session at the shutdown deadline; it has cleaned up. Ending
            # normally keeps asyncio from logging the cancellation as an error.
            pass
        finally:
            del self._sessions[task]
            self.context.events.emit(SessionClosed(session.peer, session.login.user_name))
            await self.context.state.release(address_key(normalize_host(peer_host)))
            await release_user(session)

    # --- idle sessions and stalled transfers ------------------------------------------
    # One timer for the whole server, not one per session or transfer: a session's own
    # timer (in uvloop a libuv timer handle) was made and cancelled for every login, and
    # each of thousands of idle sessions held one. A session (or a stalled transfer) ends
    # within a quarter of its timeout (at most a second) after its limit.
    def _schedule_idle_sweep(self) -> None:
        limits = [limit for limit in (self.config.idle_timeout, self.config.data_timeout) if limit]
        self._idle_sweep = None
        if limits:  # 0: no limit, as for the other limits
            interval = min(1.0, min(limits) / 4)
            self._idle_sweep = asyncio.get_running_loop().call_later(interval, self._sweep_idle)

    def _sweep_idle(self) -> None:
        self._schedule_idle_sweep()  # first: nothing below may end the sweeps
        now = asyncio.get_running_loop().time()
        for session in list(self._sessions.values()):
            session.check_timeouts(now)

    async def _refusal(self, peer_host: str) -> tuple[str, Reply] | None:
        """Why a new connection is refused (the reason's name and the reply), or None: then it
        is counted (the state's admit)."""
        assert self.context is not None
        if self._closing:  # accepted just before the listener closed
            return "shutdown", Reply(Code.SERVICE_UNAVAILABLE, "Server shutting down")
        host = normalize_host(peer_host)
        state = self.context.state
        if await state.is_banned(host):
            return "banned", Reply(
                Code.SERVICE_UNAVAILABLE, "Too many failed logins from your address, try later"
            )
        limit = self.max_connections
        if limit and len(self._sessions) >= limit and self._staying() >= limit:
            return "limit", Reply(Code.SERVICE_UNAVAILABLE, "Too many connections, try again later")
        per_ip = self.config.max_connections_per_ip
        if per_ip is None:
            per_ip = 0 if self.context.defender.is_safelisted(host) else DEFAULT_MAX_CONNECTIONS_PER_IP
        key = address_key(host)
        # Sessions whose client has hung up are about to end: they do not hold a place.
        ending = state.local_count(key) - self._staying(host) if per_ip else 0
        if not await state.admit(key, per_ip, ending):
            return "per_ip", Reply(Code.SERVICE_UNAVAILABLE, "Too many connections from your address")
        return None

    def _staying(self, peer_host: str | None = None) -> int:
        """Sessions (from `peer_host`) whose client has not hung up. One that has is about to
        end: a client that closes a session and connects again at once is not refused for it."""
        host = normalize_host(peer_host) if peer_host is not None else None
        return sum(
            1
            for session in self._sessions.values()
            if not session.client_hung_up and (host is None or session.peer_host == host)
        )


def _addresses(sockets: tuple[socket.socket, ...] | list[socket.socket]) -> list[str]:
    out = []
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return out
