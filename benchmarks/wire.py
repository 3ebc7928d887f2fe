"""A small, fast FTP client for load generation, speaking standard FTP to any server.

Built on asyncio protocols (callbacks) rather than streams: per operation the load
generator must do less work than the server it measures, or it would measure itself.
Downloads land in one shared buffer (`BufferedProtocol`: no bytes object per chunk)
and are checked with CRC-32 on the fly; uploads write pre-built blocks with the
transport's flow control. A single big transfer takes the cheaper `bulk` paths below.
Replies are parsed by aioftp_lite's pure `ReplyParser`.

Order of a transfer is the one every server accepts (as ftplib and curl do): EPSV
(PASV if refused), connect the data connection, send the command, expect 150/125,
move the data, expect 226/250.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Callable, Iterable
from typing import TypeVar

from aioftp_lite.protocol.addresses import AddressError, parse_epsv_reply_text, parse_pasv_reply_text
from aioftp_lite.protocol.replies import Reply, ReplyParseError, ReplyParser

from .payload import crc32

# One receive buffer for every download of the process: `buffer_updated` consumes it
# before the loop reads into it again (asyncio and uvloop both call the pair back to back).
_RECEIVE_BUFFER = memoryview(bytearray(1 << 20))
_SEND_HIGH_WATER = 4 << 20
# A bulk download asks the kernel to wake it only once this much has arrived (SO_RCVLOWAT),
# so each wake-up fills the whole buffer. On loopback the sender's core does the receiver's
# wake-ups: woken at every arrival, we cost the server a wake-up per chunk. Measured here
# (server and load generator on one core each, retr_big 256 MiB, medians of 5), both servers
# at ~97 % CPU without it: pyftpdlib 1,550 -> 2,520 MiB/s, ours 1,850 -> 3,280 MiB/s with it.
_BULK_LOW_WATER = 1 << 20


class FTPFailure(Exception):
    """An exchange that went wrong; `kind` is a short name used to count errors, `after`
    what the unwelcome reply answered ("greeting", "USER", "PASS", ...) when known."""

    def __init__(self, kind: str, detail: str = "", after: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.after = after


def _wake(waiter: asyncio.Future[None] | None, failure: Exception | None = None) -> None:
    if waiter is not None and not waiter.done():
        if failure is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(failure)


class _ReplyReceiver(asyncio.Protocol):
    """A control connection's receiving end: parses replies and reports failures to a subclass."""

    def __init__(self) -> None:
        self._parser = ReplyParser()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            replies = self._parser.feed(data)
        except ReplyParseError as error:
            self._fail(FTPFailure("bad_reply", str(error)))
            assert self.transport is not None
            self.transport.abort()
            return
        self._take(replies)

    def eof_received(self) -> bool:
        self._fail(FTPFailure("control_closed", "server closed the control connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(FTPFailure("control_lost", str(exc) if exc else "control connection closed"))

    def _take(self, replies: list[Reply]) -> None:
        raise NotImplementedError

    def _fail(self, failure: FTPFailure) -> None:
        raise NotImplementedError


class _Control(_ReplyReceiver):
    """The control connection: bytes in, whole replies out, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._replies: collections.deque[Reply] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: FTPFailure | None = None

    def _take(self, replies: list[Reply]) -> None:
        self._replies.extend(replies)
        _wake(self._waiter)

    def _fail(self, failure: FTPFailure) -> None:
        if self._failure is None:
            self._failure = failure
        _wake(self._waiter)

    async def reply(self) -> Reply:
        # Replies that arrived before the connection closed are still handed out (221 then EOF).
        while not self._replies:
            if self._failure is not None:
                raise self._failure
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()


class _Sink(asyncio.BufferedProtocol):
    """A download: counts and CRCs the bytes until the server closes the connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, low_water: int = 0) -> None:
        self.size = 0
        self.crc = 0
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.BaseTransport | None = None
        self._low_water = low_water

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self._low_water:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, self._low_water)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECEIVE_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.size += nbytes
        self.crc = crc32(_RECEIVE_BUFFER[:nbytes], self.crc)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        _wake(self.closed, FTPFailure("data_lost", str(exc)) if exc else None)


class _ThrottledSink(_Sink):
    """A download read no faster than `rate` bytes/s, as by a user on a line of that speed:
    reading pauses while ahead of schedule, so TCP flow control holds the server back (the
    data socket's receive buffer is kept small for that, see `FTPClient._connect_data`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: int) -> None:
        super().__init__(loop)
        self._loop = loop
        self._rate = rate
        self._chunk = max(1024, min(len(_RECEIVE_BUFFER), rate // 20))  # a twentieth of a second's worth
        self._began = loop.time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._began = self._loop.time()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECEIVE_BUFFER[: self._chunk]

    def buffer_updated(self, nbytes: int) -> None:
        super().buffer_updated(nbytes)
        ahead = self._began + self.size / self._rate - self._loop.time()
        if ahead > 0 and self.transport is not None:
            # uvloop's transports have pause_reading but are no asyncio.ReadTransport subclass.
            self.transport.pause_reading()  # type: ignore[attr-defined]
            self._loop.call_later(ahead, self._resume)

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()  # type: ignore[attr-defined]


class _Source(asyncio.Protocol):
    """An upload: writes blocks while the transport accepts them, then closes (EOF = end)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._resume: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=_SEND_HIGH_WATER)

    def pause_writing(self) -> None:
        self._resume = self._loop.create_future()

    def resume_writing(self) -> None:
        _wake(self._resume)
        self._resume = None

    def connection_lost(self, exc: Exception | None) -> None:
        failure = FTPFailure("data_lost", str(exc)) if exc else None
        _wake(self._resume, failure or FTPFailure("data_lost", "closed while sending"))
        _wake(self.closed, failure)

    async def send(self, blocks: Iterable[bytes]) -> int:
        assert self.transport is not None
        sent = 0
        for block in blocks:
            if self.closed.done():
                raise FTPFailure("data_lost", "server closed the data connection during upload")
            self.transport.write(block)
            sent += len(block)
            if self._resume is not None:
                await self._resume
        self.transport.close()  # flushes what is buffered, then FIN: the end of the file
        await self.closed
        return sent


class _LoginCycle(_ReplyReceiver):
    """One connect + USER/PASS + QUIT, driven by callbacks as replies arrive (conn_login).

    No coroutine step or future per reply: with `FTPClient` the load generator reached
    99 % of its core at about 12,000 logins/s and measured itself, not the server.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, user: str, password: str) -> None:
        super().__init__()
        self.done: asyncio.Future[None] = loop.create_future()
        self._lines = (f"USER {user}\r\n".encode(), f"PASS {password}\r\n".encode(), b"QUIT\r\n")
        self._step = 0  # 0: greeting, 1: reply to USER, 2: to PASS, 3: to QUIT, 4: done

    def _take(self, replies: list[Reply]) -> None:
        for reply in replies:
            self._on_reply(reply)

    def _on_reply(self, reply: Reply) -> None:
        assert self.transport is not None
        step, code = self._step, reply.code
        if step == 0 and code == 220:
            self._send(1, self._lines[0])
        elif step == 1 and code == 331:
            self._send(2, self._lines[1])
        elif step in (1, 2) and code == 230:
            self._send(3, self._lines[2])
        elif step == 3 and code == 221:
            self._step = 4
            self.transport.close()
            _wake(self.done)
        elif step < 4:
            what = ("greeting", "USER", "PASS", "QUIT")[step]
            self._fail(FTPFailure(f"reply_{code}", f"{what}: {reply}", after=what))

    def _send(self, step: int, line: bytes) -> None:
        assert self.transport is not None
        self._step = step
        self.transport.write(line)

    def _fail(self, failure: FTPFailure) -> None:
        if self._step < 4:
            self._step = 4
            _wake(self.done, failure)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.abort()


async def login_cycle(
    host: str, port: int, user: str, password: str, local_addr: tuple[str, int] | None = None
) -> None:
    """Connect (from `local_addr` if given), log in and quit (closing after 221, as real
    clients do); FTPFailure if not, with `after` saying which step was refused."""
    loop = asyncio.get_running_loop()
    transport, cycle = await loop.create_connection(
        lambda: _LoginCycle(loop, user, password), host, port, local_addr=local_addr
    )
    try:
        await cycle.done
    except BaseException:
        transport.abort()
        raise


P = TypeVar("P", bound=asyncio.BaseProtocol)


class FTPClient:
    """One logged-in FTP session; every method is one standard exchange."""

    def __init__(self, host: str, control: _Control, source: str | None = None) -> None:
        self._host = host
        self._control = control
        # Data connections come from the control connection's address, as a server (or a
        # balancer sticky by address) expects.
        self._local = (source, 0) if source else None
        self._loop = asyncio.get_running_loop()
        self._epsv = True

    @classmethod
    async def connect(cls, host: str, port: int, source: str | None = None) -> FTPClient:
        """A session to host:port, from the local address `source` if given."""
        loop = asyncio.get_running_loop()
        local = (source, 0) if source else None
        _transport, control = await loop.create_connection(
            lambda: _Control(loop), host, port, local_addr=local
        )
        client = cls(host, control, source)
        try:
            await client.expect(None, 220)
        except BaseException:
            client.abort()
            raise
        return client

    async def send(self, line: str) -> Reply:
        transport = self._control.transport
        assert transport is not None
        if transport.is_closing():  # uvloop raises RuntimeError on a write to a closed transport
            raise FTPFailure("control_closed", f"{line.split(' ', 1)[0]} after the control connection closed")
        transport.write(line.encode("utf-8") + b"\r\n")
        return await self._control.reply()

    async def expect(self, line: str | None, *codes: int) -> Reply:
        reply = await (self.send(line) if line is not None else self._control.reply())
        if reply.code not in codes:
            raise FTPFailure(f"reply_{reply.code}", f"{line or 'greeting'}: {reply}")
        return reply

    async def login(self, user: str, password: str, binary: bool = True) -> None:
        reply = await self.send(f"USER {user}")
        if reply.code == 331:
            await self.expect(f"PASS {password}", 230)
        elif reply.code != 230:
            raise FTPFailure(f"reply_{reply.code}", f"USER: {reply}")
        if binary:
            await self.expect("TYPE I", 200)

    async def _passive_address(self) -> tuple[str, int]:
        try:
            if self._epsv:
                reply = await self.send("EPSV")
                if reply.code == 229:
                    return self._host, parse_epsv_reply_text(reply.text)
                if reply.code not in (500, 501, 502):
                    raise FTPFailure(f"reply_{reply.code}", f"EPSV: {reply}")
                self._epsv = False
            reply = await self.expect("PASV", 227)
            # The address in 227 is the server's idea of itself; the control host is what works.
            return self._host, parse_pasv_reply_text(reply.text)[1]
        except AddressError as error:
            raise FTPFailure("bad_passive_reply", str(error)) from None

    async def _connect_data(
        self, factory: Callable[[], P], host: str, port: int, receive_buffer: int
    ) -> tuple[asyncio.BaseTransport, P]:
        if not receive_buffer:
            return await self._loop.create_connection(factory, host, port, local_addr=self._local)
        (family, kind, proto, _name, address), *_ = await self._loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
        sock = socket.socket(family, kind, proto)
        try:
            # Before connecting: the buffer sets the window the connection offers the server.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            if self._local is not None:
                sock.bind(self._local)
            await self._loop.sock_connect(sock, address)
        except BaseException:
            sock.close()
            raise
        return await self._loop.create_connection(factory, sock=sock)

    async def _open_data(self, command: str, factory: Callable[[], P], receive_buffer: int = 0) -> P:
        host, port = await self._passive_address()
        transport, protocol = await self._connect_data(factory, host, port, receive_buffer)
        try:
            await self.expect(command, 125, 150)
        except BaseException:
            transport.abort()
            raise
        return protocol

    async def retr(self, path: str, bulk: bool = False, rate: int = 0) -> tuple[int, int]:
        """Download `path`; returns (size, crc32) of what arrived. `bulk`: one big file,
        read in whole buffers (see `_BULK_LOW_WATER`); `rate`: read at most that many bytes/s,
        with a receive buffer of a quarter of a second's worth."""
        if rate:
            sink: _Sink = await self._open_data(
                f"RETR {path}", lambda: _ThrottledSink(self._loop, rate), max(4096, rate // 4)
            )
        else:
            low_water = _BULK_LOW_WATER if bulk else 0
            sink = await self._open_data(f"RETR {path}", lambda: _Sink(self._loop, low_water))
        try:
            await sink.closed
        except BaseException:  # cancelled (a deadline) or lost: the data connection goes too
            if sink.transport is not None:
                sink.transport.abort()
            raise
        await self.expect(None, 226, 250)
        return sink.size, sink.crc

    async def list(self, path: str = "") -> int:
        """LIST; returns the size of the listing in bytes."""
        command = f"LIST {path}" if path else "LIST"
        sink = await self._open_data(command, lambda: _Sink(self._loop))
        await sink.closed
        await self.expect(None, 226, 250)
        return sink.size

    async def stor(self, path: str, blocks: Iterable[bytes]) -> int:
        """Upload `blocks` as `path`; returns the bytes sent."""
        source = await self._open_data(f"STOR {path}", lambda: _Source(self._loop))
        sent = await source.send(blocks)
        await self.expect(None, 226, 250)
        return sent

    async def stor_bulk(self, path: str, blocks: Iterable[memoryview]) -> int:
        """Upload one big file from views of a reused buffer (`payload.iter_views`) on a bare
        socket: `sock_sendall` has copied each view into the kernel before asking for the next.
        Measured here (stor_big 256 MiB, medians of 6-8), against the transport path with a
        fresh 1 MiB `bytes` per block: load generator 0.45-0.55 -> 0.37 ms of CPU per MiB, the
        servers' MiB/s unchanged. Zero-copy sendfile from a memfd cost us less still against
        pyftpdlib (0.14 ms/MiB) but made pyftpdlib itself slower (1,520 -> 980 MiB/s: the bytes
        arrive as page-cache pages, which cost the receiver more), and gained nothing with ours."""
        host, port = await self._passive_address()
        (family, kind, proto, _name, address), *_ = await self._loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
        sent = 0
        with socket.socket(family, kind, proto) as sock:
            sock.setblocking(False)
            await self._loop.sock_connect(sock, address)
            await self.expect(f"STOR {path}", 125, 150)
            try:
                for view in blocks:
                    await self._loop.sock_sendall(sock, view)
                    sent += len(view)
            except OSError as error:  # the server closed or reset the data connection
                raise FTPFailure("data_lost", f"after {sent} bytes: {error}") from None
        # Leaving the block closed the socket: FIN after the last byte, the end of the file.
        await self.expect(None, 226, 250)
        return sent

    async def noop(self) -> None:
        await self.expect("NOOP", 200)

    async def delete(self, path: str) -> None:
        await self.expect(f"DELE {path}", 250)

    async def quit(self) -> None:
        try:
            await self.expect("QUIT", 221)
        finally:
            self.close()

    def close(self) -> None:
        if self._control.transport is not None:
            self._control.transport.close()

    def abort(self) -> None:
        if self._control.transport is not None:
            self._control.transport.abort()
