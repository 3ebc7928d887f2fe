"""SPLICE: uploads from the bare data socket into a local file through kernel pipes.

Below asyncio's streams for the same reason as sendfile.py: a transport owns its socket.
`os.splice` moves the received bytes into a pipe (page references, no copy), and a
worker thread splices the pipe into the file, well ahead of a Python loop of
recv_into + write on one core (the figures: benchmarks/README.md, "Why the code is
shaped so").

Memory per upload stays bounded: two pipes of PIPE_SIZE bytes; while both wait for
the disk, nothing is read from the socket (TCP back-pressure).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket

from ...storage.base import PipeWriter
from .progress import Progress
from .readiness import wait_readable

PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
CAN_SPLICE = hasattr(os, "splice")  # Linux
_NONBLOCKING_MOVE = getattr(os, "SPLICE_F_NONBLOCK", 0) | getattr(os, "SPLICE_F_MOVE", 0)


class _Pipe:
    """A kernel pipe used as a staging block between the socket and the file."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
            fcntl.fcntl(self.write_end, _F_SETPIPE_SZ, PIPE_SIZE)
        self.filled = 0

    def close(self) -> None:
        os.close(self.read_end)
        os.close(self.write_end)


async def splice_from_socket(sock: socket.socket, write_from_pipe: PipeWriter, progress: Progress) -> int:
    """Upload: socket -> pipe -> file until the client closes the data connection.

    `write_from_pipe(pipe_fd, count)` moves exactly `count` bytes from the pipe into
    the file (in a worker thread). While it drains one pipe, the other fills.
    """
    fd = sock.fileno()
    pipes = [_Pipe(), _Pipe()]
    writing: asyncio.Future[None] | None = None
    total = 0
    try:
        current = 0
        ended = False
        while not ended:
            pipe = pipes[current]
            ended = await _fill(fd, pipe)
            if writing is not None:
                # Shielded: a cancel (ABOR) must not abandon a worker thread that still
                # splices from the pipe into the file; `finally` waits for it instead.
                await asyncio.shield(writing)
                writing = None
            if pipe.filled:
                count, pipe.filled = pipe.filled, 0
                writing = asyncio.ensure_future(write_from_pipe(pipe.read_end, count))
                total += count
                progress.moved += count
            current ^= 1
        if writing is not None:
            await asyncio.shield(writing)
            writing = None
        return total
    finally:
        if writing is not None:
            # Cancelled or failed mid-write: the worker thread still uses the pipe and the
            # file; let it finish (at most one pipe's worth) before they are closed under it.
            with contextlib.suppress(BaseException):
                await asyncio.shield(writing)
        for pipe in pipes:
            pipe.close()


async def _fill(fd: int, pipe: _Pipe) -> bool:
    """Move socket bytes into `pipe` until it holds PIPE_SIZE; True at the end of data.

    A full pipe and an empty socket both answer EAGAIN: after a readiness wait, a
    second EAGAIN in a row means the pipe is full (its slots, not its bytes, ran out).
    """
    stalled = False
    while pipe.filled < PIPE_SIZE:
        try:
            moved = os.splice(fd, pipe.write_end, PIPE_SIZE - pipe.filled, flags=_NONBLOCKING_MOVE)
        except BlockingIOError:
            if stalled and pipe.filled:
                return False
            stalled = True
            await wait_readable(fd)
            continue
        if moved == 0:
            return True
        stalled = False
        pipe.filled += moved
    return False
