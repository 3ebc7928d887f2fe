"""An upload to S3: one PUT for a small file, else a multipart upload streamed part by part.

Memory per upload is bounded: the part being filled plus at most two parts in flight
(MAX_IN_FLIGHT), so with 8 MiB parts about 24 MiB whatever the file size; a slow store
slows `write`, which slows reading from the data connection (TCP back-pressure). The
three part buffers are reused, not made per part: fresh 8 MiB buffers, freed and made
again, fragment the C heap and the process keeps growing.

Nothing is visible under the key until `commit` (PutObject or CompleteMultipartUpload).
`abort` drops a replacement (AbortMultipartUpload; the old object stays as it was). For
APPE and REST+STOR (`keep_on_abort`) what arrived is kept instead, as on a local disk,
so that the client can resume from SIZE.

APPE and REST+STOR start from the old object's first `keep` bytes: copied server-side
as part 1 (UploadPartCopy) when they can be a part of their own, else read back into
the first part; `zeros` zero bytes follow them (REST past the end, as a sparse file).
"""

from __future__ import annotations

import asyncio

from .base import FileWriter
from .s3_client import S3Client

MAX_IN_FLIGHT = 2
MIN_PART_SIZE = 5 * 1024 * 1024


class S3Writer(FileWriter):
    def __init__(
        self, client: S3Client, key: str, part_size: int, keep: int = 0, zeros: int = 0,
        keep_on_abort: bool = False,
    ) -> None:  # fmt: skip
        self._client, self._key, self._part_size = client, key, part_size
        self._keep, self._zeros = keep, zeros
        self._keep_on_abort = keep_on_abort
        self._current = bytearray(part_size)  # the part being filled, `_filled` bytes so far
        self._filled = 0
        self._spare: list[bytearray] = []  # part buffers whose upload has finished
        self._started = False  # the kept head and the zeros are in place
        self._upload: str | None = None
        self._parts: list[tuple[int, str]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._next_part = 1
        self._finished = False

    async def _start(self) -> None:
        """Put the old object's kept head first (APPE, REST+STOR)."""
        self._started = True
        if self._keep >= MIN_PART_SIZE:
            self._upload = await self._client.create_upload(self._key)
            etag = await self._client.copy_part(self._key, self._upload, 1, self._key, 0, self._keep - 1)
            self._parts.append((1, etag))
            self._next_part = 2
        elif self._keep:
            await self._add(await self._client.get_range(self._key, 0, self._keep - 1))
        while self._zeros:
            count = min(self._zeros, self._part_size)
            self._zeros -= count
            await self._add(bytes(count))

    async def write(self, chunk: bytes) -> None:
        if not self._started:
            await self._start()
        await self._add(chunk)

    async def _add(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            count = min(len(view), self._part_size - self._filled)
            self._current[self._filled : self._filled + count] = view[:count]
            self._filled += count
            view = view[count:]
            if self._filled == self._part_size:
                await self._send(self._current)
                self._current = self._spare.pop() if self._spare else bytearray(self._part_size)
                self._filled = 0

    async def _send(self, part: bytearray | bytes) -> None:
        if self._upload is None:
            self._upload = await self._client.create_upload(self._key)
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            done, self._in_flight = await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a failed part fails the upload now
        number, self._next_part = self._next_part, self._next_part + 1
        self._in_flight.add(asyncio.create_task(self._upload_part(number, part)))

    async def _upload_part(self, number: int, part: bytearray | bytes) -> None:
        assert self._upload is not None
        etag = await self._client.upload_part(self._key, self._upload, number, part)
        self._parts.append((number, etag))
        if isinstance(part, bytearray):
            self._spare.append(part)

    async def commit(self) -> None:
        try:
            if not self._started:
                await self._start()
            last = bytes(memoryview(self._current)[: self._filled])
            if self._upload is None:
                await self._client.put(self._key, last)
            else:
                if last or (not self._parts and not self._in_flight):
                    await self._send(last)
                await asyncio.gather(*self._in_flight)
                self._in_flight.clear()
                await self._client.complete_upload(self._key, self._upload, sorted(self._parts))
            self._finished = True
        finally:
            if not self._finished:
                await self._drop()

    async def abort(self) -> None:
        if self._finished:
            return
        if self._keep_on_abort:
            try:
                await self.commit()  # APPE / REST: keep what arrived
                return
            except OSError:
                pass  # the store is failing: nothing more can be kept
        await self._drop()

    async def _drop(self) -> None:
        self._finished = True
        for task in self._in_flight:
            task.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight)
            self._in_flight.clear()
        if self._upload is not None:
            upload, self._upload = self._upload, None
            await self._client.abort_upload(self._key, upload)
