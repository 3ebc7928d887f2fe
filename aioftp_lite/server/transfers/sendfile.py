"""SENDFILE: downloads straight from the page cache to the bare data socket.

Why below asyncio's streams here: a transport owns its socket, so the kernel's
zero-copy calls cannot be used through one (asyncio's `loop.sendfile` can, uvloop's
cannot). On the bare, non-blocking socket we wait for writability with add_writer,
which every event loop offers, and let `os.sendfile` move the bytes.
"""

from __future__ import annotations

import os
import socket
from typing import BinaryIO

from .progress import Progress
from .readiness import wait_writable

# Downloads go in slices this big, so that `Progress` knows how far a cut one got.
SENDFILE_SLICE = 4 * 1024 * 1024

# A big download gets a fixed send buffer (the kernel doubles the value: 8 MiB) instead of
# one that autotuning grows from 16 KiB: fewer wake-ups per byte, and steadier retr_big
# (benchmarks/README.md, "Why the code is shaped so"). Only for big files: a slow
# client may keep that much queued in the kernel, twice autotuning's 4 MiB ceiling.
BIG_DOWNLOAD = 8 * 1024 * 1024
BIG_SEND_BUFFER = 4 * 1024 * 1024


async def sendfile_to_socket(
    sock: socket.socket, file: BinaryIO, offset: int, progress: Progress, size: int = 0
) -> int:
    """Download: the file from `offset` to its end (`size`: the file's size, a hint),
    straight from the page cache."""
    out, source = sock.fileno(), file.fileno()
    if size - offset >= BIG_DOWNLOAD:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BIG_SEND_BUFFER)
    total = 0
    while True:
        try:
            sent = os.sendfile(out, source, offset + total, SENDFILE_SLICE)
        except BlockingIOError:
            await wait_writable(out)
            continue
        if sent == 0:
            return total
        total += sent
        progress.moved += sent
