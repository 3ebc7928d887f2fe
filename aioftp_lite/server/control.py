"""The control connection's transport end: command lines in, replies out.

Why a bare `asyncio.Protocol` here when the data connections use streams: a session
that only logs in and quits (conn_login, and every real client's first second) spent
most of its server time in the stream trio (StreamReaderProtocol, StreamReader and
StreamWriter made per connection, and a future plus a wake-up call per line in
`readuntil`). This class does only what a control connection needs: it splits lines,
bounds their length, applies back-pressure both ways and hands the session one line
at a time (measured in benchmarks/README.md, conn_login).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable


class LineTooLong(Exception):
    """A command line passed the limit; it has been dropped (up to its newline)."""


class ControlConnection(asyncio.Protocol):
    __slots__ = (
        "_buffer",
        "_closed",
        "_discarding",
        "_drain_waiter",
        "_eof",
        "_limit",
        "_lost",
        "_on_made",
        "_reading_paused",
        "_tls",
        "_waiter",
        "_writing_paused",
        "awaits_tls",
        "source",
        "transport",
    )  # fmt: skip

    def __init__(
        self, on_made: Callable[[ControlConnection], None], limit: int, implicit_tls: bool = False
    ) -> None:
        self.transport: asyncio.Transport = None  # type: ignore[assignment] # set by connection_made
        self._on_made = on_made
        self._limit = limit
        self._buffer = b""
        self._discarding = False  # dropping the rest of an over-long line
        self._waiter: asyncio.Future[None] | None = None  # readline waiting for a line
        self._eof = False
        self._lost = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None  # made only when someone waits
        self._tls = False
        # On the implicit FTPS port: TLS from the first byte, the handshake still to come.
        self.awaits_tls = implicit_tls
        # The client's address from a load balancer's PROXY header (proxied.py), if any.
        self.source: tuple[str, int] | None = None

    @property
    def is_tls(self) -> bool:
        return self._tls

    # --- protocol callbacks ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.awaits_tls:
            # The client's handshake stays in the kernel for start_tls (which resumes reading);
            # read here, it would be taken for command lines.
            self._reading_paused = True
            transport.pause_reading()  # type: ignore[attr-defined]
        self._on_made(self)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return  # memory never grows with an endless line
            self._discarding = False
            data = data[end + 1 :]
        self._buffer = self._buffer + data if self._buffer else data
        if len(self._buffer) > 2 * self._limit and not self._reading_paused:
            # A client pipelining commands faster than we answer them waits in the kernel.
            self._reading_paused = True
            self.transport.pause_reading()
        # Wake the reader only when it has something to do: a trickled line is searched once.
        if b"\n" in data or len(self._buffer) > self._limit:
            self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return not self._tls  # keep a plain half-closed connection open for our last replies

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self._wake_reader()
        self._wake_drainers()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- reading --------------------------------------------------------------------
    async def readline(self) -> bytes | None:
        """The next line with its newline; None at the end of the stream (a last line
        without newline is dropped). Raises LineTooLong for a line over the limit."""
        while True:
            buffer = self._buffer
            end = buffer.find(b"\n")
            if end > self._limit or (end < 0 and len(buffer) > self._limit):
                self._buffer = buffer[end + 1 :] if end >= 0 else b""
                self._discarding = end < 0
                self._maybe_resume_reading()
                raise LineTooLong
            if end >= 0:
                self._buffer = buffer[end + 1 :]
                self._maybe_resume_reading()
                return buffer[: end + 1]
            if self._eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _maybe_resume_reading(self) -> None:
        if self._reading_paused and len(self._buffer) <= self._limit and not self._lost:
            self._reading_paused = False
            self.transport.resume_reading()

    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    @property
    def eof_seen(self) -> bool:
        return self._eof

    # --- writing --------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._lost or self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.closing:  # uvloop would raise RuntimeError on a closed transport
            raise ConnectionResetError("the control connection is closed")
        self.transport.write(data)

    @property
    def must_drain(self) -> bool:
        return self._writing_paused

    async def drain(self) -> None:
        """Wait while the client is not reading our replies (the transport's high-water mark)."""
        if self._lost:
            raise ConnectionResetError("the control connection is closed")
        if self._writing_paused:
            if self._drain_waiter is None or self._drain_waiter.done():
                self._drain_waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain_waiter)  # shared: a cancelled waiter must not fail the others
            if self._lost:
                raise ConnectionResetError("the control connection is closed")

    # --- TLS and closing ------------------------------------------------------------
    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float | None) -> None:
        """Upgrade to TLS (after the 234 reply to AUTH TLS)."""
        # Anything the client sent before its handshake came in clear text: it must not be
        # run as if it had come over TLS (the STARTTLS command injection, CVE-2011-0411).
        self._buffer = b""
        self._reading_paused = False  # start_tls resumes reading the plain transport itself
        plain = self.transport
        loop = asyncio.get_running_loop()
        upgraded = await loop.start_tls(
            plain, self, context, server_side=True, ssl_handshake_timeout=handshake_timeout
        )
        if upgraded is None:  # CPython 3.11: the client hung up during the handshake
            plain.abort()
            raise ConnectionResetError("the client closed the connection during the TLS handshake")
        self.transport = upgraded
        self._tls = True
        self.awaits_tls = False

    def say_goodbye(self, reply: bytes) -> None:
        """Send a last reply and close, without waiting (idle timeout, shutdown)."""
        if self.closing:
            return
        self.transport.write(reply)
        self.transport.close()  # flushes the reply first

    async def close(self, timeout: float) -> None:
        """Flush and close; never raises. Plain TCP with nothing left to send closes at once:
        waiting for it would cost a loop turn, a future and a timer per session (conn_login)."""
        transport = self.transport
        if not self._tls and not transport.get_write_buffer_size():
            if not transport.is_closing():  # (once closing, the descriptor may be gone)
                send_fin_now(transport)
            transport.close()
            return
        transport.close()
        if self._lost:
            return
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._closed
        except TimeoutError:
            transport.abort()


def send_fin_now(transport: asyncio.BaseTransport) -> None:
    """Send our FIN at once, right behind the last reply, rather than at the transport's close
    one loop turn later: the server then closes first, as RFC 959 has it after 221, and the
    TIME_WAIT state stays with us instead of using up the client's ports (a client opening
    thousands of sessions a second ran out of them)."""
    view = transport.get_extra_info("socket")
    if view is None or view.fileno() < 0:
        return
    # uvloop's view of the socket refuses shutdown(). Family and type given: otherwise
    # socket() asks the kernel for them (three more system calls per session).
    sock = socket.socket(view.family, view.type, fileno=view.fileno())
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.detach()  # the transport still owns the descriptor
