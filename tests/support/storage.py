"""A FileReader wrapper that slows downloads down, so tests can act mid-transfer."""

from __future__ import annotations

import asyncio
import time

from aioftp_lite.storage.base import FileReader


class SlowReader(FileReader):
    """Sleeps `delay` seconds before each chunk; `ended` (if given) gets the close time."""

    def __init__(self, inner: FileReader, delay: float = 0.03, ended: list[float] | None = None) -> None:
        self.inner, self.delay, self.ended = inner, delay, ended
        self.size = inner.size

    async def read_chunk(self) -> bytes:
        await asyncio.sleep(self.delay)
        return await self.inner.read_chunk()

    async def close(self) -> None:
        if self.ended is not None:
            self.ended.append(time.monotonic())
        await self.inner.close()
