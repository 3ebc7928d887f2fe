"""Connections that arrive through a load balancer speaking the PROXY protocol (HAProxy's
`send-proxy` / `send-proxy-v2`): the header's client address replaces the balancer's.

Who may send a header is configured (`--proxy-trusted`, loopback by default): a trusted
sender must send one before anything else; anyone else must not (a client that could
choose its own address would escape bans and limits). Either mistake closes the
connection with a log line. A header whose command carries no address (v2 LOCAL: the
balancer's own health check; v1 UNKNOWN) leaves the connection's real endpoints.

The control connection's header is read by `ProxyHeaderReader`, a protocol that owns the
transport until the header is complete and then hands it to the control connection.
A passive data connection's header is read from the bare socket, byte-exact, so not a
byte of the upload behind it is taken (`read_socket_header`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable

from ..defender import parse_safelist
from ..protocol.addresses import normalize_host
from ..protocol.proxy import (
    SIGNATURE_PREFIX_LENGTH,
    V1_PREFIX,
    V2_HEADER_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    parse_header,
    starts_like_header,
)  # fmt: skip
from .control import ControlConnection

log = logging.getLogger("aioftp_lite.server")

DEFAULT_TRUSTED = ("127.0.0.0/8", "::1")


class ProxyPolicy:
    """Which senders are load balancers, and how long one may take to send its header."""

    def __init__(self, trusted: Iterable[str] = DEFAULT_TRUSTED, header_timeout: float = 5.0) -> None:
        self.networks = parse_safelist(trusted)
        self.header_timeout = header_timeout
        self._cache: dict[str, bool] = {}

    def trusts(self, host: str) -> bool:
        trusted = self._cache.get(host)
        if trusted is None:
            try:
                ip = ipaddress.ip_address(normalize_host(host))
            except ValueError:
                return False
            trusted = any(ip in network for network in self.networks)
            if len(self._cache) > 10_000:  # a handful of balancers in practice; bounded anyway
                self._cache.clear()
            self._cache[host] = trusted
        return trusted

    def sent_by_balancer(self, sock: socket.socket) -> bool:
        try:
            return self.trusts(sock.getpeername()[0])
        except OSError:  # reset meanwhile
            return False

    async def source_of(self, sock: socket.socket) -> str | None:
        """The client address in the header at the start of `sock` (a passive data connection
        from a balancer), or None if there is none to take; the header is consumed."""
        try:
            async with asyncio.timeout(self.header_timeout):
                header = await read_socket_header(sock)
        except (ProxyHeaderError, OSError, TimeoutError) as error:
            log.warning("data connection from a balancer dropped: %s", error or "no PROXY header in time")
            return None
        return normalize_host(header.source[0]) if header.source is not None else None


async def read_socket_header(sock: socket.socket) -> ProxyHeader:
    """Read exactly one PROXY header from a non-blocking socket, never a byte beyond it."""
    loop = asyncio.get_running_loop()
    data = b""
    wanted = len(V1_PREFIX)  # enough to tell v1 from v2
    while True:
        chunk = await loop.sock_recv(sock, wanted - len(data))
        if not chunk:
            raise ProxyHeaderError("closed before the end of its PROXY header")
        data += chunk
        if len(data) < wanted:
            continue
        header = parse_header(data)  # raises at the first byte that cannot belong to a header
        if header is not None:
            return header
        if data.startswith(V2_SIGNATURE[:1]):
            length = struct.unpack_from("!H", data, 14)[0] if len(data) >= V2_HEADER_LENGTH else 0
            wanted = V2_HEADER_LENGTH + length
        else:
            wanted = len(data) + 1  # v1: a line of at most 107 bytes, read up to its CRLF


class ProxyHeaderReader(asyncio.Protocol):
    """Stands in front of a control connection until its PROXY question is settled.

    From a trusted sender: wait (bounded in time and size) for the header, then hand the
    transport over with the header's client address as the connection's source. From
    anyone else: the session starts at once (the server speaks first), and the first
    bytes the client sends are checked for a header before they are passed on.
    """

    def __init__(self, control: ControlConnection, policy: ProxyPolicy) -> None:
        self._control = control
        self._policy = policy
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._buffer = b""
        self._watching = False  # an untrusted sender, whose session has started
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if not peer:  # reset before we got to it
            transport.abort()  # type: ignore[attr-defined]
            return
        self._peer = f"{normalize_host(peer[0])}:{peer[1]}"
        if self._policy.trusts(peer[0]):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._policy.header_timeout, self._timed_out)
        else:
            self._watching = True
            self._control.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._watching:
            self._check_untrusted()
            return
        try:
            header = parse_header(self._buffer)
        except ProxyHeaderError as error:
            self._refuse(f"{error} from a trusted sender")
            return
        if header is not None:
            self._hand_over(header)

    def _check_untrusted(self) -> None:
        buffer = self._buffer
        if starts_like_header(buffer):
            if buffer.startswith((V1_PREFIX, V2_SIGNATURE)):
                self._refuse("PROXY header from an address not in --proxy-trusted")
                return
            if len(buffer) < SIGNATURE_PREFIX_LENGTH and b"\n" not in buffer.lstrip(b"\r\n"):
                return  # too few bytes to tell yet
        self._pass_on()

    def _hand_over(self, header: ProxyHeader) -> None:
        self._cancel_timer()
        transport = self._transport
        assert transport is not None
        if header.source is not None:
            self._control.source = (normalize_host(header.source[0]), header.source[1])
            log.debug("%s is a balancer for %s:%s", self._peer, *header.source)
        rest, self._buffer = self._buffer[header.length :], b""
        transport.set_protocol(self._control)
        self._control.connection_made(transport)
        if rest:
            self._control.data_received(rest)

    def _pass_on(self) -> None:
        transport = self._transport
        assert transport is not None
        buffer, self._buffer = self._buffer, b""
        transport.set_protocol(self._control)
        if buffer:
            self._control.data_received(buffer)

    def _refuse(self, reason: str) -> None:
        self._cancel_timer()
        log.warning("%s closed: %s", self._peer, reason)
        self._buffer = b""
        if self._transport is not None:
            self._transport.abort()

    def _timed_out(self) -> None:
        self._timer = None
        self._refuse(f"a trusted sender sent no PROXY header within {self._policy.header_timeout:g}s")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def eof_received(self) -> bool:
        if self._watching:
            return bool(self._control.eof_received())
        return False  # closed before its header: nothing was started

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._watching:
            self._control.connection_lost(exc)
