"""Handlers ask here for a transfer; `strategy.choose` decides how its bytes move, and the
transfer carries the one mechanism that does it (each lives once, in this package)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...storage.base import FileReader, FileWriter
from ..throttle import RateLimiter
from .blocks import BlockSink, SinkProtocol, loop_takes_blocks, receive_blocks
from .cleanup import Cleanup
from .progress import Progress
from .sendfile import sendfile_to_socket
from .splice import CAN_SPLICE, splice_from_socket
from .strategy import Direction, Strategy, TransferFacts, choose
from .stream import UPLOAD_BLOCKS, receive_file, send_file, send_line_batches, send_lines

if TYPE_CHECKING:
    from ..datachannel import DataConnection, ReceiverFactory

# The body of a transfer: gets the open data connection, returns the bytes moved.
Run = Callable[["DataConnection", Progress], Awaitable[int]]


@dataclass(slots=True)
class Transfer:
    """What the session runs once the data connection is open."""

    strategy: Strategy  # named in the transfer's log line
    run: Run
    cleanup: Cleanup  # runs to its end after `run`, however the transfer ended
    receiver: ReceiverFactory | None = None  # how the data connection takes incoming bytes


async def _nothing_to_clean() -> None:
    return None


def download(
    source: FileReader, *, ascii_mode: bool, tls: bool, limiters: list[RateLimiter], sendfile_allowed: bool
) -> Transfer:
    """RETR: `source` to the client; the transfer closes `source`."""
    local = source.local_file()
    facts = TransferFacts(
        Direction.DOWNLOAD,
        ascii_mode,
        tls,
        bool(limiters),
        local is not None,
        sendfile_allowed=sendfile_allowed,
    )
    strategy = choose(facts)
    if strategy is Strategy.SENDFILE:
        assert local is not None
        file, offset = local

        async def run(connection: DataConnection, progress: Progress) -> int:
            sock = connection.bare_socket
            assert sock is not None, "without TLS or a receiver the data connection stays a bare socket"
            return await sendfile_to_socket(sock, file, offset, progress, source.size)

    else:

        async def run(connection: DataConnection, progress: Progress) -> int:
            _reader, writer = await connection.streams()
            return await send_file(source, writer, ascii_mode, limiters, progress)

    return Transfer(strategy, run, source.close)


def upload(
    target: FileWriter,
    *,
    ascii_mode: bool,
    tls: bool,
    limiters: list[RateLimiter],
    chunk_size: int,
    confirm: Callable[[], Awaitable[bool]],
) -> Transfer:
    """STOR/APPE/STOU: the client's bytes into `target`, committed only when complete and
    `confirm()` (the client is still there) holds; aborted otherwise."""
    pipe_writer = target.pipe_writer()
    facts = TransferFacts(
        Direction.UPLOAD, ascii_mode, tls, bool(limiters), pipe_writer is not None,
        kernel_splice=CAN_SPLICE, buffered_loop=loop_takes_blocks(asyncio.get_running_loop()),
    )  # fmt: skip
    strategy = choose(facts)
    receiver: ReceiverFactory | None = None
    if strategy is Strategy.SPLICE:
        assert pipe_writer is not None

        async def receive(connection: DataConnection, progress: Progress) -> int:
            sock = connection.bare_socket
            assert sock is not None, "without TLS or a receiver the data connection stays a bare socket"
            return await splice_from_socket(sock, pipe_writer, progress)

    elif strategy is Strategy.BLOCKS:
        sink = BlockSink(chunk_size * UPLOAD_BLOCKS)
        receiver = functools.partial(SinkProtocol, sink=sink)

        async def receive(connection: DataConnection, progress: Progress) -> int:
            return await receive_blocks(sink, target, progress)

    else:

        async def receive(connection: DataConnection, progress: Progress) -> int:
            reader, _writer = await connection.streams()
            return await receive_file(reader, target, ascii_mode, chunk_size, limiters, progress)

    async def run(connection: DataConnection, progress: Progress) -> int:
        received = await receive(connection, progress)
        progress.held_by_server = True  # all received: the rest is ours to do
        if not await confirm():
            raise ConnectionAbortedError("client disconnected during the upload")
        await target.commit()
        return received

    return Transfer(strategy, run, target.abort, receiver)


def listing(lines: Callable[[], Iterable[str]]) -> Transfer:
    """LIST/NLST/MLSD of what is known now: `lines()` is called once the data connection is open."""

    async def run(connection: DataConnection, _progress: Progress) -> int:
        _reader, writer = await connection.streams()
        return await send_lines(lines(), writer)

    return Transfer(Strategy.LINES, run, _nothing_to_clean)


def streamed_listing(batches: Callable[[], AsyncIterator[list[str]]]) -> Transfer:
    """A listing read batch by batch while it is sent (a folder of an in-order backend)."""

    async def run(connection: DataConnection, _progress: Progress) -> int:
        _reader, writer = await connection.streams()
        return await send_line_batches(batches(), writer)

    return Transfer(Strategy.LINES, run, _nothing_to_clean)
