"""Waiting for a bare socket to be readable or writable, on any event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def _ready(add: Callable[..., None], remove: Callable[[int], object], fd: int) -> None:
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    add(fd, wake)
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
