"""The control connection: send command lines, read whole replies, keep them in step.

Every wait is bounded by the timeout. A command whose final reply was never read
(its task was cancelled while waiting) leaves a reply "owed": it is read and
dropped before the next command is sent, so a reply is never taken for the
answer to a later command. Anything that leaves the stream in an unknown state
(timeout, EOF, garbage, 421) closes the connection and raises FTPConnectionLost.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque

from ..protocol.addresses import normalize_host
from ..protocol.commands import format_command
from ..protocol.replies import Code, Reply, ReplyParseError, ReplyParser
from .errors import FTPConnectionLost, FTPReplyError, FTPTLSError
from .secure import describe_tls_error

log = logging.getLogger("aioftp_lite.client")

_READ_SIZE = 16 * 1024


class ControlConnection:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = ReplyParser()
        self._ready: deque[Reply] = deque()
        self._owed = 0  # final replies the server still owes us
        self._plain_writer: asyncio.StreamWriter | None = None  # the stream under TLS, if any
        self.local_host = ""  # addresses of this connection, for data connections
        self.peer_host = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    @property
    def secure(self) -> bool:
        """The connection runs over TLS (after AUTH TLS)."""
        return self.connected and self._ssl_object() is not None

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        """The TLS session, for data connections to resume."""
        ssl_object = self._ssl_object()
        return ssl_object.session if ssl_object is not None else None

    def _ssl_object(self) -> ssl.SSLObject | None:
        # Only while open: CPython 3.11's TLS transport fails on get_extra_info once closed.
        return self._writer.get_extra_info("ssl_object") if self.connected and self._writer else None

    async def open(self) -> Reply:
        """Connect and read the greeting (a 120 "wait" may come before the 220)."""
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise FTPConnectionLost(f"Could not connect to {self.where}: timed out") from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise FTPConnectionLost(f"Could not connect to {self.where}: {reason}") from None
        self.local_host = normalize_host(self._writer.get_extra_info("sockname")[0])
        self.peer_host = normalize_host(self._writer.get_extra_info("peername")[0])
        self._owed = 1
        greeting = await self.final_reply()
        if greeting.code >= 400:
            self.drop()
            raise FTPReplyError(greeting)
        return greeting

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Switch to TLS, after the server's 234 reply to AUTH TLS.

        The TLS stream gets a new reader and reply parser: anything the server (or
        someone in the middle) sent in plain text after the 234 stays in the old
        ones and is dropped, so it can never pass for a reply that came over TLS.
        """
        writer = self._require()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            async with asyncio.timeout(self.timeout):
                transport = await loop.start_tls(
                    writer.transport, protocol, context, server_hostname=self.host,
                    ssl_handshake_timeout=self.timeout,
                )  # fmt: skip
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            self.drop()
            raise FTPTLSError(
                f"TLS handshake with {self.where} failed: {describe_tls_error(error)}"
            ) from None
        except BaseException:  # cancelled half-way: the stream is in no usable state
            self.drop()
            raise
        if transport is None:  # typed Optional, but an open connection always gets one
            self.drop()
            raise FTPTLSError(f"TLS handshake with {self.where} failed: the connection closed")
        protocol.connection_made(transport)  # start_tls does not tell the new protocol
        # Kept, not dropped: a StreamWriter that is garbage-collected closes its transport,
        # and the plain one's transport is the socket under the TLS layer.
        self._plain_writer = writer
        self._reader, self._writer = reader, asyncio.StreamWriter(transport, protocol, reader, loop)
        dropped = len(self._ready)
        self._parser, self._ready = ReplyParser(), deque()
        if dropped:
            log.warning("%s dropped %d plain-text replies sent after 234", self.where, dropped)

    # --- sending --------------------------------------------------------------------
    async def send(self, verb: str, argument: str = "") -> None:
        """Send a command once every earlier command has had its final reply."""
        line = format_command(verb, argument)  # ValueError on line breaks, before any I/O
        while self._owed:
            stale = await self.read_reply()
            log.debug("%s dropped a stale reply: %s", self.where, stale)
        await self.send_now(line)

    async def send_now(self, line: bytes) -> None:
        """Send without waiting for owed replies (ABOR must overtake the transfer's)."""
        writer = self._require()
        shown = "PASS ****" if line[:5].upper() == b"PASS " else line.decode(errors="replace").strip()
        log.debug("%s >>> %s", self.where, shown)
        self._owed += 1
        try:
            writer.write(line)
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except TimeoutError:
            raise self._lost("could not send within the timeout") from None
        except OSError as error:
            raise self._lost(str(error) or type(error).__name__) from None

    # --- receiving ------------------------------------------------------------------
    async def read_reply(self) -> Reply:
        """The next reply, preliminary (1xx) or final."""
        reader = self._require_reader()
        while not self._ready:
            try:
                async with asyncio.timeout(self.timeout):
                    data = await reader.read(_READ_SIZE)
            except TimeoutError:
                raise self._lost(f"no reply within {self.timeout:g} s") from None
            except OSError as error:
                raise self._lost(str(error) or type(error).__name__) from None
            if not data:
                raise self._lost("the server closed the connection")
            try:
                self._ready.extend(self._parser.feed(data))
            except ReplyParseError as error:
                raise self._lost(str(error)) from None
        reply = self._ready.popleft()
        log.debug("%s <<< %s", self.where, reply)
        if reply.code == Code.SERVICE_UNAVAILABLE:  # 421: the server is closing on us
            raise self._lost(str(reply), reply)
        if not reply.is_preliminary:
            self._owed = max(0, self._owed - 1)
        return reply

    async def final_reply(self) -> Reply:
        """The next final reply (2xx-5xx), skipping preliminary ones."""
        while (reply := await self.read_reply()).is_preliminary:
            pass
        return reply

    async def execute(self, verb: str, argument: str = "") -> Reply:
        """Send a command and return its final reply; 4xx/5xx raise FTPReplyError."""
        await self.send(verb, argument)
        reply = await self.final_reply()
        if reply.code >= 400:
            raise FTPReplyError(reply)
        return reply

    def forgive_owed(self) -> None:
        """Everything owed has been read by other means (after a NOOP sentinel)."""
        self._owed = 0

    # --- the end --------------------------------------------------------------------
    def _require(self) -> asyncio.StreamWriter:
        if self._writer is None or self._writer.is_closing():
            raise FTPConnectionLost(f"Not connected to {self.where}")
        return self._writer

    def _require_reader(self) -> asyncio.StreamReader:
        # Not _require(): replies that arrived before the server closed its side are still
        # read (e.g. vsftpd's "522 SSL connection failed" just before it hangs up). Over TLS,
        # asyncio marks the transport closing as soon as the peer closes.
        if self._writer is None or self._reader is None:
            raise FTPConnectionLost(f"Not connected to {self.where}")
        return self._reader

    def _lost(self, why: str, reply: Reply | None = None) -> FTPConnectionLost:
        self.drop()
        return FTPConnectionLost(f"Connection to {self.where} lost: {why}", reply)

    def drop(self) -> None:
        """Close at once, without a goodbye; never raises."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.transport.abort()
        self._ready.clear()
        self._owed = 0

    async def close(self) -> None:
        """Close politely (flush what is buffered), bounded by the timeout; never raises."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
            async with asyncio.timeout(min(self.timeout, 5.0)):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            writer.transport.abort()
