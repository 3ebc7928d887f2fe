"""Data connections: a passive listener (PASV/EPSV) or an active target (PORT/EPRT).

Passive listeners are cheap on purpose: SO_REUSEADDR lets a port whose previous data
connection sits in TIME_WAIT be bound again, a configured port range is walked round
robin instead of asking the kernel for a fresh ephemeral port each time, and the
listener is closed as soon as its one connection arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import random
import socket
import ssl
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import FTPError
from ..protocol.addresses import Address, normalize_host
from ..protocol.replies import Code
from ..tls import FTPSContext, without_session_tickets
from .control import send_fin_now

if TYPE_CHECKING:
    from .proxied import ProxyPolicy

DataStreams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# How a data connection takes its incoming bytes, where not through the stream reader
# (an upload straight into blocks: transfers/blocks.py).
ReceiverFactory = Callable[[asyncio.StreamReader], "DataProtocol"]


class DataTLSRefused(FTPError):
    """A protected data connection that did not resume the control connection's TLS session.

    The session replies with this and ends (see tls.py).
    """

    def __init__(self) -> None:
        super().__init__(
            Code.DATA_TLS_REFUSED,
            "TLS session of data connection not resumed: the data connection must reuse the control "
            "connection's TLS session; closing the control connection",
        )


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's own range for automatic ports (Linux), where nothing else is assigned."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            low, high = (int(word) for word in file.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


class PassivePorts:
    """Hands out passive ports in turn, from a configured range or the ephemeral one.

    Why not bind port 0: the kernel then searches for a port with no socket bound at
    all, and once tens of thousands of finished data connections sit in TIME_WAIT
    (normal under load) that search takes milliseconds per PASV, most of the server's
    time at such loads. Binding a chosen port with
    SO_REUSEADDR is one lookup, and may reuse a port whose old connections are in
    TIME_WAIT; a port really in use answers EADDRINUSE and the next one is tried.
    """

    # Without a configured range, how many ports to try before asking the kernel.
    AUTOMATIC_ATTEMPTS = 64

    def __init__(self, port_range: tuple[int, int] | None) -> None:
        self._configured = port_range is not None
        low, high = port_range if port_range is not None else _ephemeral_range()
        self._size = high - low + 1
        start = random.randrange(self._size)  # workers and restarts spread out
        self._next = itertools.cycle([*range(low + start, high + 1), *range(low, low + start)])
        # The listeners handed out; a closed or dropped one no longer counts (metrics read it).
        self._handed_out: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    @property
    def in_use(self) -> int:
        return sum(1 for sock in list(self._handed_out) if sock.fileno() != -1)

    def bind(self, host: str) -> socket.socket:
        sock = self._bind(host)
        self._handed_out.add(sock)
        return sock

    def _bind(self, host: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        attempts = self._size if self._configured else self.AUTOMATIC_ATTEMPTS
        for _ in range(attempts):
            sock = _try_listen(family, host, next(self._next))
            if sock is not None:
                return sock
        if not self._configured:
            sock = _try_listen(family, host, 0)  # a crowded range: let the kernel search
            if sock is not None:
                return sock
        raise FTPError(Code.CANT_OPEN_DATA, "No free passive port")


def _try_listen(family: socket.AddressFamily, host: str, port: int) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)
        sock.setblocking(False)
        return sock
    except OSError as error:
        sock.close()
        if error.errno != errno.EADDRINUSE:
            raise
        return None


class DataProtocol(asyncio.StreamReaderProtocol):
    """A data connection whose clean end of data is not undone by a later error.

    A client may close its socket right after its TLS close_notify (curl does), so our
    answering close_notify can fail (EPIPE); asyncio would then turn the finished
    upload into an error for the reader. After the end of data nothing is lost, so
    that error is dropped.
    """

    _data_ended = False

    def eof_received(self) -> bool:
        self._data_ended = True
        return bool(super().eof_received())

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(None if self._data_ended else exc)


@dataclass
class _Active:
    address: Address


class DataChannel:
    """The pending data connection of one session, consumed by the next transfer."""

    __slots__ = ("_limit", "_peer_host", "_pending", "_proxy")

    def __init__(self, peer_host: str, buffer_limit: int, proxy: ProxyPolicy | None = None) -> None:
        self._peer_host = normalize_host(peer_host)
        self._limit = buffer_limit
        self._pending: socket.socket | _Active | None = None
        # Behind a load balancer: a passive connection from it carries a PROXY header naming
        # the client, and is held to that address instead (proxied.py).
        self._proxy = proxy

    @property
    def is_pending(self) -> bool:
        return self._pending is not None

    def listen(self, ports: PassivePorts, host: str) -> int:
        """Open a passive listener on `host`; returns its port."""
        self.close()
        listener = ports.bind(host)
        self._pending = listener
        port: int = listener.getsockname()[1]
        return port

    def target(self, address: Address) -> None:
        self.close()
        self._pending = _Active(address)

    async def open(
        self,
        timeout: float | None,
        tls: ssl.SSLContext | None = None,
        receiver: ReceiverFactory | None = None,
    ) -> DataConnection:
        """Accept or connect the data connection, within `timeout` seconds.

        With `tls` the data connection is protected (PROT P); we are the TLS server
        whichever side connected (RFC 4217 7). A handshake the context does not accept
        (no resumption of the control connection's session) raises DataTLSRefused. With `receiver`,
        incoming data goes to the protocol it makes instead of the stream reader (uploads).
        Otherwise it stays a bare socket until a transfer asks for streams.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            raise FTPError(Code.CANT_OPEN_DATA, "Use PORT, EPRT, PASV or EPSV first")
        try:
            sock = self._take_waiting(pending) if isinstance(pending, socket.socket) else None
            proxied = sock is not None and self._proxy is not None and self._proxy.sent_by_balancer(sock)
            if sock is not None and tls is None and receiver is None and not proxied:
                return DataConnection(sock, self._limit)  # nothing to wait for: no timer needed
            async with asyncio.timeout(timeout):
                if sock is None or proxied:
                    if isinstance(pending, _Active):
                        sock = await _connect(pending.address)
                    else:
                        assert isinstance(pending, socket.socket)
                        sock = await self._accept_from_peer(pending, sock)
                connection = DataConnection(sock, self._limit)
                if tls is not None or receiver is not None:
                    await connection.streams(tls, receiver)
                return connection
        except (OSError, TimeoutError) as error:
            # str(), not the exception: a TimeoutError is truthy but has no words of its own.
            reason = str(error) or "timed out"
            raise FTPError(Code.CANT_OPEN_DATA, f"Can't open data connection: {reason}") from None
        finally:
            if isinstance(pending, socket.socket):
                pending.close()

    def _take_waiting(self, listener: socket.socket) -> socket.socket | None:
        """The passive connection, if it already waits in the backlog (None if not yet).

        It usually does: clients connect right after the 227/229 reply, before sending
        RETR or STOR. Taken at once, it needs no timeout, future or loop turn, a visible
        share of a small download's cost. Others are dropped, as in
        `_accept_from_peer`.
        """
        while True:
            try:
                connection, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return None
            except ConnectionAbortedError:
                continue  # reset while queued: the next one, if any
            if self._from_peer(connection, address):
                connection.setblocking(False)
                return connection

    async def _accept_from_peer(
        self, listener: socket.socket, taken: socket.socket | None = None
    ) -> socket.socket:
        """Accept the first connection from the control connection's own host (`taken`: one
        already accepted from a balancer, whose header is still to be read).

        Connections from elsewhere are dropped (they would let a third host steal
        or inject the data: "passive port theft").
        """
        loop = asyncio.get_running_loop()
        while True:
            if taken is not None:
                connection, taken = taken, None
            else:
                connection, address = await loop.sock_accept(listener)
                if not self._from_peer(connection, address):
                    continue
            proxy = self._proxy
            if proxy is None or not proxy.sent_by_balancer(connection):
                return connection
            if await proxy.source_of(connection) == self._peer_host:
                return connection
            connection.close()

    def _from_peer(self, connection: socket.socket, address: tuple[str, int]) -> bool:
        """Whether an accepted connection comes from the client's host (or from a balancer,
        whose header is then checked); if not, it is closed."""
        if normalize_host(address[0]) == self._peer_host or (
            self._proxy is not None and self._proxy.trusts(address[0])
        ):
            return True
        connection.close()
        return False

    def close(self) -> None:
        if isinstance(self._pending, socket.socket):
            self._pending.close()
        self._pending = None


class DataConnection:
    """An open data connection.

    Plain TCP stays a bare socket until a transfer asks for streams: the zero-copy
    mechanisms (transfers/sendfile.py, splice.py) need the socket itself, and a transport would own it.
    """

    def __init__(self, sock: socket.socket, buffer_limit: int) -> None:
        self._socket = sock
        self._limit = buffer_limit
        self._streams: DataStreams | None = None

    @property
    def bare_socket(self) -> socket.socket | None:
        return self._socket if self._streams is None else None

    async def streams(
        self, tls: ssl.SSLContext | None = None, receiver: ReceiverFactory | None = None
    ) -> DataStreams:
        if self._streams is None:
            self._streams = await _wrap(self._socket, tls, receiver, self._limit)
        return self._streams

    @property
    def tcp_socket(self) -> socket.socket | None:
        """The socket under the connection, for its TCP state (None once closed)."""
        # (uvloop: a view of its own socket)
        sock = self._streams[1].get_extra_info("socket") if self._streams is not None else self._socket
        return sock if sock is not None and sock.fileno() >= 0 else None

    async def close(self) -> None:
        """Close after a complete transfer, flushing what is buffered."""
        if self._streams is not None:
            await close_quietly(self._streams[1])
        else:
            self._socket.close()

    def abort(self, reset: bool = False) -> None:
        """Drop the connection at once (a no-op after close).

        `reset`: send RST and drop what is still queued for the client. A client that
        stopped reading would otherwise keep the unsent data in our kernel for minutes.
        """
        if reset and (sock := self.tcp_socket) is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self._streams is not None:
            abort_transport(self._streams[1].transport)
        else:
            self._socket.close()


def abort_transport(transport: asyncio.WriteTransport) -> None:
    """`transport.abort()`, also after a close whose buffered data went out meanwhile.

    asyncio's selector transport, closed with data still queued, calls connection_lost
    itself once that data is sent, without marking the connection lost: a later abort()
    then fails on the event loop the transport has already let go (AttributeError). The
    connection is gone by then, so there is nothing left to drop.
    """
    try:
        transport.abort()
    except AttributeError:
        if not transport.is_closing():
            raise  # not that case: a real error


async def _wrap(
    connection: socket.socket, tls: ssl.SSLContext | None, receiver: ReceiverFactory | None, limit: int
) -> DataStreams:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    protocol = DataProtocol(reader) if receiver is None else receiver(reader)
    try:
        with without_session_tickets():
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, connection, ssl=tls)
    except BaseException:
        connection.close()
        raise
    ssl_object = transport.get_extra_info("ssl_object")
    if isinstance(tls, FTPSContext) and not tls.accepts_data_connection(ssl_object):
        transport.abort()  # before a byte of data: the peer may be someone else
        raise DataTLSRefused()
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def _connect(address: Address) -> socket.socket:
    """Active mode: connect to the client's data port."""
    host, port = address
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def close_quietly(writer: asyncio.StreamWriter, timeout: float = 5.0) -> None:
    """Close a data connection, flushing what is buffered; never raises."""
    try:
        # Plain TCP with nothing buffered closes at once: no loop turn, future or timer to wait.
        done = not writer.transport.get_write_buffer_size() and writer.get_extra_info("ssl_object") is None
        if done and not writer.transport.is_closing():  # (once closing, the descriptor may be gone)
            send_fin_now(writer.transport)
        writer.close()
        if done:
            return
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        abort_transport(writer.transport)
