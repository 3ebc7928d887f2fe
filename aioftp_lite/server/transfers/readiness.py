"""Waiting for a bare socket to be readable or writable, on any event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def _ready(add: Callable[..., None], remove: Callable[[int], object], fd: int) -> None:
    waiter = asyncio.get_running_loop().create_future()
    add(fd, lambda: waiter.done() or waiter.set_result(None))
    try:
        await waiter
    finally:
        remove(fd)


async def wait_readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    await _ready(loop.add_reader, loop.remove_reader, fd)


async def wait_writable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    await _ready(loop.add_writer, loop.remove_writer, fd)
