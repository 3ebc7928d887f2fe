"""One transfer over a data connection, and how it ends when interrupted.

The order of a transfer: data setup (EPSV/PASV/EPRT/PORT), REST if resuming, the
transfer command, its 1xx reply, the data, the final reply. If anything goes wrong
after the transfer command was sent (the task is cancelled, the local disk fails,
the data connection times out), the client resets the data connection, sends ABOR
and then NOOP, and reads replies until the NOOP's 200: whatever the server said
in between (426 then 226, or 226 then 225, or a single reply) belongs to the
aborted transfer, so the control connection is back in step and usable.

File I/O runs in worker threads in chunks of CHUNK bytes, so a slow disk never
stalls the event loop and memory stays bounded by the chunk size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import BinaryIO, Protocol

from ..protocol.replies import Code
from .data import DataConnection, PendingData
from .errors import FTPConnectionLost, FTPReplyError
from .session import ControlConnection

CHUNK = 256 * 1024
# Replies a server may send between ABOR and the NOOP's 200; more means it is confused.
_MAX_ABORT_REPLIES = 8

Progress = Callable[[int], None]
Body = Callable[[DataConnection], Awaitable[int]]


async def run_transfer(
    control: ControlConnection,
    prepare: Callable[[], Awaitable[PendingData]],
    verb: str,
    argument: str,
    body: Body,
    rest: int = 0,
) -> int:
    """Run one transfer command; returns what `body` returns (bytes moved)."""
    pending = await prepare()
    try:
        if rest:
            await control.execute("REST", str(rest))  # after PASV/PORT: REST must be last
        await control.send(verb, argument)
    except BaseException:
        pending.close()
        raise
    data: DataConnection | None = None
    moved = 0
    try:
        reply = await control.read_reply()
        if reply.is_preliminary:
            data = await pending.connect()
            moved = await body(data)
            await data.finish()
            reply = await control.final_reply()
    except BaseException:
        if data is not None:
            data.abort()
        pending.close()
        await abort_on_server(control)
        raise
    pending.close()
    if reply.code >= 400:
        raise FTPReplyError(reply)
    return moved


async def abort_on_server(control: ControlConnection) -> None:
    """Bring the control connection back in step after an interrupted transfer.

    The data connection is already reset, so even a server that reads no command
    during a transfer ends it (426) and then reads ABOR. Never raises unless
    cancelled again; if the server does not answer sensibly the connection is
    dropped (the caller's error tells what happened first).
    """
    if not control.connected:
        return
    try:
        await control.send_now(b"ABOR\r\n")
        await control.send_now(b"NOOP\r\n")
        for _ in range(_MAX_ABORT_REPLIES):
            if (await control.read_reply()).code == Code.OK:
                control.forgive_owed()
                return
        control.drop()
    except FTPConnectionLost:
        pass  # already dropped
    except BaseException:
        control.drop()
        raise


async def _read_chunk(data: DataConnection) -> bytes:
    try:
        async with asyncio.timeout(data.timeout):
            return await data.reader.read(CHUNK)
    except TimeoutError:
        raise TimeoutError(f"no data for {data.timeout:g} s") from None


class DownloadTarget(Protocol):
    """Where a download writes: a binary file, or any object with these (flush is optional)."""

    def write(self, data: bytes, /) -> object: ...

    def seek(self, offset: int, /) -> object: ...


async def receive_to_file(
    data: DataConnection, local_file: DownloadTarget, start: int, progress: Progress | None
) -> int:
    """Download: data connection -> local file. Returns the bytes received."""
    received = 0
    parts: list[bytes] = []
    buffered = 0
    while chunk := await _read_chunk(data):
        received += len(chunk)
        parts.append(chunk)
        buffered += len(chunk)
        if buffered >= CHUNK:
            await asyncio.to_thread(local_file.write, b"".join(parts))
            parts, buffered = [], 0
        if progress is not None:
            progress(start + received)
    if parts:
        await asyncio.to_thread(local_file.write, b"".join(parts))
    if (flush := getattr(local_file, "flush", None)) is not None:  # file-likes without flush are fine
        await asyncio.to_thread(flush)
    return received


async def send_from_file(
    data: DataConnection, local_file: BinaryIO, start: int, progress: Progress | None
) -> int:
    """Upload: local file -> data connection, with back-pressure. Returns the bytes sent."""
    sent = 0
    while chunk := await asyncio.to_thread(local_file.read, CHUNK):
        data.writer.write(chunk)
        try:
            async with asyncio.timeout(data.timeout):
                await data.writer.drain()
        except TimeoutError:
            raise TimeoutError(f"the server took no data for {data.timeout:g} s") from None
        sent += len(chunk)
        if progress is not None:
            progress(start + sent)
    return sent


async def receive_all(data: DataConnection, sink: bytearray) -> int:
    """A listing: everything until the server closes the data connection."""
    while chunk := await _read_chunk(data):
        sink += chunk
    return len(sink)
