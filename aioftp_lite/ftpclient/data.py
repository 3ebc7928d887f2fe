"""Data connections: passive (EPSV, falling back to PASV) and active (EPRT, falling back to PORT).

Preparing a data connection happens before the transfer command is sent; the
connection itself is taken after the server's 1xx reply (`PendingData.connect`).

Passive: the client connects to the port the server names, always at the host of
the control connection, whatever address a 227 reply carries (servers behind NAT
often announce a private address; and a server must not be able to aim our data
connection at a third host). Active: the client listens on the control
connection's local address and accepts one connection, only from the server's host.

With PROT P (FTPS) the TLS handshake starts as soon as the TCP connection exists,
concurrently with the transfer command: servers differ in whether they reply 150
before or after their side of the handshake, and either order works this way.
`connect()` then waits for the handshake too.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TypeVar

from ..protocol.addresses import (
    AddressError,
    format_eprt_argument,
    format_port_argument,
    normalize_host,
    parse_epsv_reply_text,
    parse_pasv_reply_text,
)
from ..protocol.replies import Reply
from .errors import FTPReplyError
from .secure import DataTLS, secure_data_stream
from .session import ControlConnection

# Stream buffer per data connection: one read returns at most this much.
DATA_BUFFER = 256 * 1024

Result = TypeVar("Result")


class DataConnection:
    """An open data connection: streams plus the two ways to end it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout

    async def finish(self) -> None:
        """Normal end: flush, send FIN (for an upload that is "end of file"), wait for the close."""
        try:
            self.writer.close()
            async with asyncio.timeout(self.timeout):
                await self.writer.wait_closed()
        except (OSError, TimeoutError):
            self.writer.transport.abort()

    def abort(self) -> None:
        """Abnormal end: reset the connection (RST, not FIN) so the server cannot take a
        cut-short upload for a complete one, and a sender blocked on us fails at once."""
        try:
            sock = self.writer.get_extra_info("socket")
        except AttributeError:  # CPython 3.11: a TLS transport whose connection is gone
            sock = None
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()


class PendingData:
    """A data connection being set up; `connect()` once the server sent 1xx."""

    async def connect(self) -> DataConnection:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Passive(PendingData):
    def __init__(self, connection: DataConnection, tls: DataTLS | None) -> None:
        self._connection: DataConnection | None = connection
        self._securing: asyncio.Task[None] | None = None
        if tls is not None:
            self._securing = _background(secure_data_stream(connection.writer, tls, connection.timeout))

    async def connect(self) -> DataConnection:
        assert self._connection is not None, "connect() once"
        if self._securing is not None:
            await self._securing  # bounded by the timeout inside
        connection, self._connection = self._connection, None
        return connection

    def close(self) -> None:
        if self._securing is not None and not self._securing.done():
            self._securing.cancel()
        if self._connection is not None:
            self._connection.abort()
            self._connection = None


class _Active(PendingData):
    def __init__(
        self, listener: socket.socket, server_host: str, timeout: float, tls: DataTLS | None
    ) -> None:
        self._listener = listener
        self._server_host = server_host
        self._timeout = timeout
        self._tls = tls
        self._taken = False
        # Accept from the start: some servers (pyftpdlib) connect as soon as they get PORT.
        self._accepting = _background(self._accept())

    async def _accept(self) -> DataConnection:
        loop = asyncio.get_running_loop()
        while True:
            sock, address = await loop.sock_accept(self._listener)
            if normalize_host(address[0]) == self._server_host:
                break
            sock.close()  # someone else racing for our port
        self._listener.close()
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=DATA_BUFFER)
        except BaseException:
            sock.close()
            raise
        connection = DataConnection(reader, writer, self._timeout)
        if self._tls is not None:
            try:
                await secure_data_stream(writer, self._tls, self._timeout)
            except BaseException:
                connection.abort()
                raise
        return connection

    async def connect(self) -> DataConnection:
        self._taken = True
        try:
            async with asyncio.timeout(self._timeout):
                return await self._accepting
        except TimeoutError:
            raise TimeoutError(
                f"the server did not open the data connection within {self._timeout:g} s"
            ) from None
        finally:
            self._listener.close()

    def close(self) -> None:
        self._listener.close()
        task = self._accepting
        if not task.done():
            task.cancel()
        elif not self._taken and not task.cancelled() and task.exception() is None:
            task.result().abort()  # the server connected, but the transfer never started


def _background(work: Coroutine[object, object, Result]) -> asyncio.Task[Result]:
    """A task whose failure is reported by whoever awaits it, or by nobody when the
    transfer was given up: never as "exception was never retrieved"."""
    task = asyncio.create_task(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


@dataclass
class DataModes:
    """Which commands the server took, remembered so a fallback is paid once."""

    passive_verb: str = "EPSV"
    active_verb: str = "EPRT"


async def _try_extended(control: ControlConnection, verb: str, argument: str) -> Reply | None:
    """Send EPSV/EPRT; None if the server rejects it with 5xx and the RFC 959 command may
    serve instead (IPv4 only: PASV and PORT carry no IPv6 address)."""
    try:
        return await control.execute(verb, argument)
    except FTPReplyError as error:
        if error.code >= 500 and ":" not in control.local_host:
            return None
        raise


async def prepare_passive(
    control: ControlConnection, modes: DataModes, tls: DataTLS | None = None
) -> PendingData:
    port: int | None = None
    if modes.passive_verb == "EPSV":
        reply = await _try_extended(control, "EPSV", "")
        if reply is not None:
            port = _parse_port(parse_epsv_reply_text, reply)
    if port is None:
        reply = await control.execute("PASV")
        port = _parse_port(lambda text: parse_pasv_reply_text(text)[1], reply)
        modes.passive_verb = "PASV"
    try:
        async with asyncio.timeout(control.timeout):
            reader, writer = await asyncio.open_connection(control.peer_host, port, limit=DATA_BUFFER)
    except TimeoutError:
        raise TimeoutError(f"data connection to {control.peer_host}:{port} timed out") from None
    return _Passive(DataConnection(reader, writer, control.timeout), tls)


async def prepare_active(
    control: ControlConnection, modes: DataModes, tls: DataTLS | None = None
) -> PendingData:
    host = control.local_host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.bind((host, 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
    except OSError:
        listener.close()
        raise
    pending = _Active(listener, control.peer_host, control.timeout, tls)
    try:
        eprt = format_eprt_argument(host, port)
        if modes.active_verb == "EPRT" and await _try_extended(control, "EPRT", eprt) is not None:
            return pending
        await control.execute("PORT", format_port_argument(host, port))
        modes.active_verb = "PORT"
        return pending
    except BaseException:
        pending.close()
        raise


def _parse_port(parse: Callable[[str], int], reply: Reply) -> int:
    try:
        return parse(reply.text)
    except AddressError as error:
        raise FTPReplyError(Reply(reply.code, f"{reply.text} (unusable: {error})")) from None
