"""BLOCKS: uploads received straight into large blocks, through asyncio.BufferedProtocol.

Why a lower asyncio layer here: through a StreamReader every uploaded byte is copied
twice in Python (into its buffer, then out of it) in pieces of one socket read each.
With `recv_into` the kernel writes into a 1 MiB block that goes to the disk as it is,
and while one block is being written the next one fills: half as much again as
through the StreamReader on stor_big (benchmarks/README.md, "Why the code is shaped so").

Memory per upload is bounded: `blocks` buffers of `block_size` bytes; when all are
waiting for the disk, reading from the socket pauses (TCP back-pressure).
"""

from __future__ import annotations

import asyncio
from collections import deque

from ...storage.base import FileWriter
from ..datachannel import DataProtocol
from .progress import Progress


class BlockSink:
    """The receiving end of an upload: filled by the protocol, drained by the transfer."""

    def __init__(self, block_size: int, blocks: int = 2) -> None:
        self._block_size = block_size
        self._spare = blocks  # buffers that may still be allocated
        self._free: list[bytearray] = []
        self._current: bytearray | None = None
        self._filled = 0
        self._full: deque[memoryview] = deque()
        self._in_use: memoryview | None = None  # the block handed out, being written
        self._ended = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._paused = False

    # --- the protocol's side -----------------------------------------------------------
    def attach(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def get_buffer(self) -> memoryview:
        if self._current is None:
            if self._free:
                self._current = self._free.pop()
            else:
                # Never more than `blocks` buffers: _push pauses reading before we get here.
                self._spare -= 1
                self._current = bytearray(self._block_size)
        return memoryview(self._current)[self._filled :]

    def buffer_updated(self, count: int) -> None:
        self._filled += count
        assert self._current is not None
        if self._filled == len(self._current):
            self._push()

    def end(self, error: BaseException | None) -> None:
        """End of data (error None) or a broken connection."""
        if self._ended:
            return
        if error is None and self._filled:
            self._push()
        self._ended, self._error = True, error
        self._wake()

    def _push(self) -> None:
        assert self._current is not None
        self._full.append(memoryview(self._current)[: self._filled])
        self._current, self._filled = None, 0
        if not self._free and self._spare <= 0 and not self._paused:
            self._paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- the transfer's side -----------------------------------------------------------
    async def next_block(self) -> memoryview | None:
        """The next full block (the previous one is given back first); None at the end."""
        self._release()
        while not self._full:
            if self._ended:
                if self._error is not None:
                    raise ConnectionResetError(f"data connection lost: {self._error}")
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self._in_use = self._full.popleft()
        return self._in_use

    def _release(self) -> None:
        if self._in_use is None:
            return
        buffer = self._in_use.obj
        self._in_use.release()
        self._in_use = None
        self._free.append(buffer)  # type: ignore[arg-type]
        if self._paused and not self._ended:
            self._paused = False
            self._transport.resume_reading()  # type: ignore[union-attr]


def loop_takes_blocks(loop: asyncio.AbstractEventLoop) -> bool:
    """The loop's capability this path needs: asyncio's own selector loop, whose BufferedProtocol
    handling it was built and measured on (uvloop's differs). The one place that asks."""
    return isinstance(loop, asyncio.SelectorEventLoop)


class SinkProtocol(DataProtocol, asyncio.BufferedProtocol):
    """A data connection whose incoming bytes go straight into an upload's BlockSink."""

    def __init__(self, reader: asyncio.StreamReader, sink: BlockSink) -> None:
        super().__init__(reader)
        self._sink = sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._sink.attach(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._sink.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._sink.buffer_updated(nbytes)

    def eof_received(self) -> bool:
        self._sink.end(None)
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._sink.end(exc or ConnectionResetError("closed before the end of data"))
        super().connection_lost(exc)


async def receive_blocks(sink: BlockSink, target: FileWriter, progress: Progress) -> int:
    """Write every block of `sink` to `target` until the end of data."""
    total = 0
    while (block := await sink.next_block()) is not None:
        await target.write(block)  # type: ignore[arg-type]  # a bytes-like view, written as is
        total += len(block)
        progress.moved += len(block)
    return total
