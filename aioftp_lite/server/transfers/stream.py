"""STREAM and LINES: bytes through the data connection's stream reader and writer, in
bounded chunks, with back-pressure; TYPE A conversion and rate limits happen here.

Memory per transfer is one chunk (plus the transport's high-water mark), whatever
the file size: every write is followed by `drain()`, every read asks for one chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from ...protocol.text import FromNetworkAscii, ToNetworkAscii
from ...storage.base import FileReader, FileWriter
from ..throttle import RateLimiter, throttle
from .progress import Progress


async def send_file(
    source: FileReader,
    writer: asyncio.StreamWriter,
    ascii_mode: bool,
    limiters: list[RateLimiter] | None = None,
    progress: Progress | None = None,
) -> int:
    """Download through the stream writer: file -> socket. Returns the bytes read from the file."""
    progress = progress or Progress()
    converter = ToNetworkAscii() if ascii_mode else None
    total = 0
    while chunk := await source.read_chunk():
        total += len(chunk)
        progress.moved += len(chunk)
        writer.write(converter.convert(chunk) if converter else chunk)
        await writer.drain()
        if limiters:
            await _throttle(limiters, len(chunk), progress)
    return total


UPLOAD_BLOCKS = 4  # chunks per disk write on upload: 1 MiB with the default chunk


async def receive_file(
    reader: asyncio.StreamReader,
    target: FileWriter,
    ascii_mode: bool,
    chunk_size: int,
    limiters: list[RateLimiter] | None = None,
    progress: Progress | None = None,
) -> int:
    """Upload: socket -> file, until the client closes the data connection.

    Data is gathered into blocks of UPLOAD_BLOCKS chunks before each disk write: every
    write is a worker-thread round trip, and one per socket read (often only 64 KiB)
    costs more than the copying.
    """
    progress = progress or Progress()
    converter = FromNetworkAscii() if ascii_mode else None
    total = 0
    while chunk := await _read_block(reader, chunk_size * UPLOAD_BLOCKS):
        total += len(chunk)
        progress.moved += len(chunk)
        await target.write(converter.convert(chunk) if converter else chunk)
        if limiters:
            await _throttle(limiters, len(chunk), progress)
    if converter and (tail := converter.flush()):
        await target.write(tail)
    return total


async def _throttle(limiters: list[RateLimiter], amount: int, progress: Progress) -> None:
    progress.held_by_server = True
    await throttle(limiters, amount)
    progress.held_by_server = False


async def _read_block(reader: asyncio.StreamReader, size: int) -> bytes:
    """`size` bytes, or fewer at the end of the stream."""
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as end:
        return end.partial


async def send_lines(lines: Iterable[str], writer: asyncio.StreamWriter, batch: int = 64 * 1024) -> int:
    """A listing: CRLF-terminated UTF-8 lines, sent in batches of about `batch` bytes."""
    pending: list[bytes] = []
    size = total = 0
    for line in lines:
        encoded = (line + "\r\n").encode("utf-8", "surrogateescape")
        pending.append(encoded)
        size += len(encoded)
        if size >= batch:
            writer.write(b"".join(pending))
            await writer.drain()
            total += size
            pending, size = [], 0
    if pending:
        writer.write(b"".join(pending))
        await writer.drain()
        total += size
    return total


async def send_line_batches(batches: AsyncIterator[list[str]], writer: asyncio.StreamWriter) -> int:
    """Each batch of lines as soon as it is ready, with back-pressure between batches."""
    total = 0
    async for lines in batches:
        if lines:
            total += await send_lines(lines, writer)
    return total
