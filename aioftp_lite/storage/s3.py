"""S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph, R2) behind the Storage interface.

Virtual paths map to keys under one prefix: `/docs/a.txt` is `PREFIX/docs/a.txt`. The
prefix is the jail: keys are built only from the parts of a normalised virtual path
(never `..`, never empty), so no path names an object outside `BUCKET/PREFIX`.

Folders are key prefixes. MKD writes an empty `NAME/` marker object so that an empty
folder exists; a prefix with objects below it is a folder with or without a marker.
Listings are paged ListObjectsV2 calls with the `/` delimiter.

Uploads (s3_upload.py) stream as multipart uploads, at most two parts in flight, and
appear only on CompleteMultipartUpload; a small file goes as one PUT. APPE and REST+STOR
are done honestly: the kept head of the old object is copied server-side (UploadPartCopy)
when it is large enough to be a part, otherwise read back into the first part.
Downloads are ranged GETs from the REST offset, read in chunks as they are sent.
Renaming a file is a server-side copy then a delete; renaming a folder would copy every
object below it, one by one, and could stop half-way: it is refused.

Every request runs under a timeout; a failing or unreachable store becomes an OSError
with EIO and a readable message, which the server answers with 451.

Client library: aiobotocore. obstore answers small requests several times faster
(benchmarks/README.md, "S3 client library"), but its paths cannot end in `/` (no folder
markers), it has no explicit multipart calls (no abort on purpose, no UploadPartCopy)
and its delimiter listing gathers every page in memory; on bulk data the two are even.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..protocol.listing import FileInfo
from .base import DEFAULT_CHUNK_SIZE, FileReader, FileWriter, Storage, WriteMode
from .s3_client import S3Client, StoreError, bucket_and_prefix, key_for
from .s3_upload import S3Writer

if TYPE_CHECKING:
    from ..config import ServerConfig

__all__ = ["S3Client", "S3Settings", "S3Storage", "StoreError", "bucket_and_prefix", "open_s3"]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (all but the last)
DEFAULT_PART_SIZE = 8 * 1024 * 1024
COPY_LIMIT = 5 * 1024**3  # a single CopyObject copies at most 5 GiB
LIST_PAGE = 1000
READ_AHEAD = 1024 * 1024  # bytes of a download read ahead of the data connection


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    timeout: float = 30.0  # seconds, for each request

    @classmethod
    def from_config(cls, config: ServerConfig) -> S3Settings:
        region = config.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(config.s3_bucket, config.s3_prefix, config.s3_endpoint, region, config.s3_part_size,
                   config.s3_timeout)  # fmt: skip


def _not_found() -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory")


def _file_info(name: str, size: int, modified: Any, tag: str) -> FileInfo:
    mtime = modified.timestamp() if hasattr(modified, "timestamp") else time.time()
    return FileInfo(name, False, size, mtime, 0o644, "s" + tag)


def _folder_info(name: str, key: str) -> FileInfo:
    # A prefix has no time of its own; listing it as "now" would make mirrors re-fetch it.
    return FileInfo(name, True, 0, 0.0, 0o755, "s" + hashlib.sha1(key.encode()).hexdigest()[:16])


class S3Reader(FileReader):
    """One ranged GET, read ahead of the data connection.

    A task reads the body in full chunks while the previous ones are being sent, so the
    store's latency and the client's overlap instead of adding up; at most READ_AHEAD
    bytes wait (and one chunk being read), so memory stays bounded per download.
    """

    def __init__(self, client: S3Client, body: Any, size: int, chunk_size: int) -> None:
        self._client, self._body = client, body
        self._chunk_size = chunk_size
        self.size = size
        self._chunks: asyncio.Queue[bytes | Exception] = asyncio.Queue(
            max(1, min(READ_AHEAD // chunk_size, 64))
        )
        self._filler: asyncio.Task[None] | None = None
        self._done = body is None

    async def _fill(self) -> None:
        try:
            while chunk := await self._client.read_full(self._body, self._chunk_size):
                await self._chunks.put(chunk)
        except Exception as error:  # noqa: BLE001 - the reader raises it where the server expects it
            await self._chunks.put(error)
            return
        await self._chunks.put(b"")

    async def read_chunk(self) -> bytes:
        if self._done:
            return b""
        if self._filler is None:
            self._filler = asyncio.create_task(self._fill())
        chunk = (
            self._chunks.get_nowait() if not self._chunks.empty() else await self._next_or_end(self._filler)
        )
        if isinstance(chunk, Exception):
            self._done = True
            raise chunk
        self._done = not chunk
        return chunk

    async def _next_or_end(self, filler: asyncio.Task[None]) -> bytes | Exception:
        """The next chunk, or an error if the filler ended without a last item: a cancellation
        from inside the S3 client (aiohttp's timers can turn a timeout into one) would
        otherwise leave this download waiting for a chunk that never comes."""
        getter = asyncio.ensure_future(self._chunks.get())
        try:
            await asyncio.wait({getter, filler}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        if not self._chunks.empty():  # the last item, put just before the filler ended
            return self._chunks.get_nowait()
        return StoreError("Object store: the download's read stopped without an answer")

    async def close(self) -> None:
        self._done = True
        if self._filler is not None:
            self._filler.cancel()
            await asyncio.wait([self._filler])
            self._filler = None
        if self._body is not None:
            self._body.close()
            self._body = None


class S3Storage(Storage):
    can_append = True
    can_resume = True
    can_rename_folders = False
    can_set_mtime = False
    lists_in_order = True

    def __init__(
        self, client: S3Client, prefix: str = "", chunk_size: int = DEFAULT_CHUNK_SIZE,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:  # fmt: skip
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes")
        self.client = client
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.chunk_size = chunk_size
        self.part_size = part_size

    # --- keys: the jail ---------------------------------------------------------------
    def _key(self, path: PurePosixPath) -> str:
        return key_for(self.prefix, path)

    def _folder_key(self, path: PurePosixPath) -> str:
        """The key prefix of the folder at `path` ("" + prefix for the root), ending in `/`."""
        key = self._key(path)
        return key + "/" if key else ""

    # --- metadata -------------------------------------------------------------------
    async def _head(self, path: PurePosixPath) -> dict[str, Any] | None:
        return await self.client.head(self._key(path)) if path.parts[1:] else None

    async def _folder_exists(self, path: PurePosixPath) -> bool:
        if not path.parts[1:]:
            return True
        page = await self.client.list_page(self._folder_key(path), max_keys=1)
        return bool(page.get("Contents") or page.get("CommonPrefixes"))

    async def _missing(self, path: PurePosixPath) -> OSError:
        """Why `path` is neither a file nor a folder: a file on the way (ENOTDIR) or nothing."""
        for ancestor in path.parents:
            if ancestor.parts[1:] and await self._head(ancestor) is not None:
                return NotADirectoryError(errno.ENOTDIR, "Not a directory")
        return _not_found()

    async def stat(self, path: PurePosixPath) -> FileInfo:
        head = await self._head(path)
        if head is not None:
            return _file_info(path.name, head["ContentLength"], head.get("LastModified"), _tag(head))
        if await self._folder_exists(path):
            return _folder_info(path.name or "/", self._folder_key(path))
        raise await self._missing(path)

    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        return [info async for page in self.scan_dir(path) for info in page]

    async def scan_dir(self, path: PurePosixPath, batch: int = LIST_PAGE) -> AsyncIterator[list[FileInfo]]:
        """The folder's entries a page at a time (at most `batch`, up to 1,000): memory stays
        bounded. The store lists keys in order; each page is sorted by name too."""
        folder_key = self._folder_key(path)
        token: str | None = None
        seen_any = False
        while True:
            page = await self.client.list_page(
                folder_key, delimiter="/", token=token, max_keys=min(batch, LIST_PAGE)
            )
            entries = []
            for item in page.get("Contents", ()):
                seen_any = True
                name = item["Key"][len(folder_key) :]
                if name:  # "" is the folder's own marker
                    entries.append(_file_info(name, item["Size"], item.get("LastModified"), _tag(item)))
            for item in page.get("CommonPrefixes", ()):
                seen_any = True
                name = item["Prefix"][len(folder_key) : -1]
                if name:  # "a//b" makes an empty name: not reachable by any FTP path
                    entries.append(_folder_info(name, item["Prefix"]))
            if not seen_any and token is None:
                await self._check_folder(path)  # an empty folder, or an error
            if entries:
                entries.sort(key=lambda entry: entry.name)
                yield entries
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def _check_folder(self, path: PurePosixPath) -> None:
        if not path.parts[1:]:
            return
        if await self._head(path) is not None:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        raise await self._missing(path)

    async def _require_folder(self, path: PurePosixPath) -> None:
        """`path` is an existing folder (ENOENT, ENOTDIR otherwise)."""
        if not await self._folder_exists(path):
            await self._check_folder(path)
            raise _not_found()

    async def mkdir(self, path: PurePosixPath) -> None:
        if not path.parts[1:]:
            raise FileExistsError(errno.EEXIST, "File exists")
        await self._require_folder(path.parent)
        if await self._head(path) is not None or await self._folder_exists(path):
            raise FileExistsError(errno.EEXIST, "File exists")
        await self.client.put(self._folder_key(path), b"")

    async def rmdir(self, path: PurePosixPath) -> None:
        self._refuse_root(path)
        info = await self.stat(path)
        if not info.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        marker = self._folder_key(path)
        page = await self.client.list_page(marker, max_keys=2)
        if any(item["Key"] != marker for item in page.get("Contents", ())) or page.get("CommonPrefixes"):
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        await self.client.delete(marker)

    async def remove(self, path: PurePosixPath) -> None:
        self._refuse_root(path)
        if (await self.stat(path)).is_dir:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        await self.client.delete(self._key(path))

    async def rename(self, source: PurePosixPath, target: PurePosixPath) -> None:
        self._refuse_root(source)
        self._refuse_root(target)
        info = await self.stat(source)
        await self._require_folder(target.parent)
        if target == source:
            return
        target_is_dir = await self._folder_exists(target) and await self._head(target) is None
        if not info.is_dir:
            if target_is_dir:
                raise IsADirectoryError(errno.EISDIR, "Target is a directory")
            await self._copy(self._key(source), self._key(target), info.size)
            await self.client.delete(self._key(source))
            return
        # The errors rename(2) would give, then the refusal: clients learn why it failed.
        if source in target.parents:
            raise OSError(errno.EINVAL, "Cannot move a folder into itself")
        if await self._head(target) is not None:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        if target_is_dir:
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        raise PermissionError(
            errno.EACCES, "Folders cannot be renamed on object storage: move the files one by one"
        )

    async def _copy(self, source_key: str, target_key: str, size: int) -> None:
        if size <= COPY_LIMIT:
            await self.client.copy(source_key, target_key)
            return
        upload = await self.client.create_upload(target_key)
        try:
            parts = []
            for number, start in enumerate(range(0, size, COPY_LIMIT), start=1):
                end = min(start + COPY_LIMIT, size) - 1
                etag = await self.client.copy_part(target_key, upload, number, source_key, start, end)
                parts.append((number, etag))
            await self.client.complete_upload(target_key, upload, parts)
        except BaseException:
            await self.client.abort_upload(target_key, upload)
            raise

    def _refuse_root(self, path: PurePosixPath) -> None:
        if not path.parts[1:]:
            raise PermissionError(errno.EACCES, "The root folder cannot be changed")

    # --- file data ------------------------------------------------------------------
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        head = await self._head(path)
        if head is None:
            if await self._folder_exists(path):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            raise await self._missing(path)
        size = head["ContentLength"]
        if offset >= size:
            return S3Reader(self.client, None, size, self.chunk_size)
        # If-Match: the bytes all come from the version HEAD saw, even if it is replaced meanwhile.
        body = await self.client.get_body(self._key(path), offset, head.get("ETag"))
        return S3Reader(self.client, body, size, self.chunk_size)

    async def open_write(
        self, path: PurePosixPath, mode: WriteMode = WriteMode.REPLACE, offset: int = 0
    ) -> FileWriter:
        if not path.parts[1:]:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        await self._require_folder(path.parent)
        if await self._folder_exists(path):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        keep, zeros = 0, 0
        if mode is not WriteMode.REPLACE:
            head = await self._head(path)
            size = head["ContentLength"] if head is not None else 0
            keep = size if mode is WriteMode.APPEND else min(offset, size)
            zeros = 0 if mode is WriteMode.APPEND else max(offset - size, 0)
        return S3Writer(self.client, self._key(path), self.part_size, keep=keep, zeros=zeros,
                        keep_on_abort=mode is not WriteMode.REPLACE)  # fmt: skip


def _tag(item: dict[str, Any]) -> str:
    return str(item.get("ETag", "")).strip('"')[:32]


async def open_s3(settings: S3Settings) -> S3Client:
    """A client for the settings' bucket, checked with one listing request.

    Raises StoreError with one readable line if the bucket is missing, the credentials are
    refused or the endpoint does not answer."""
    client = await S3Client.open(settings.bucket, settings.endpoint, settings.region, settings.timeout)
    try:
        await client.check(settings.prefix)
    except BaseException:
        await client.close()
        raise
    return client
