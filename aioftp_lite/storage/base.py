"""The storage interface the server talks to: a small set of operations on virtual paths.

Backends raise the built-in OS errors (FileNotFoundError, IsADirectoryError, ...);
the server maps them to FTP replies in one table (`aioftp_lite.errors`).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import PurePosixPath
from typing import BinaryIO

from ..protocol.listing import FileInfo

DEFAULT_CHUNK_SIZE = 256 * 1024
SCAN_BATCH = 1024  # entries per batch of `Storage.scan_dir`

# (pipe_fd, count): move exactly `count` bytes from a kernel pipe into the file.
PipeWriter = Callable[[int, int], Awaitable[None]]


class WriteMode(enum.Enum):
    REPLACE = "replace"  # atomic: temporary file, renamed over the target when committed
    APPEND = "append"  # APPE: writes go to the end of the existing file
    RESUME = "resume"  # REST + STOR: writes start at an offset of the existing file


class FileReader(abc.ABC):
    """An open file being downloaded; `size` is the whole file's size in bytes."""

    size: int

    @abc.abstractmethod
    async def read_chunk(self) -> bytes:
        """The next chunk, at most the storage's chunk size; b'' at the end."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def local_file(self) -> tuple[BinaryIO, int] | None:
        """A local OS file and the offset to read from, if the backend has one: the server then
        lets the kernel move its bytes (sendfile) or reads it by descriptor (HASH)."""
        return None


class BytesReader(FileReader):
    """A file whose data is already in memory (a small file read at open, or the memory backend)."""

    def __init__(self, data: bytes, size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._view = memoryview(data)
        self._position = 0
        self._chunk_size = chunk_size
        self.size = size

    async def read_chunk(self) -> bytes:
        chunk = self._view[self._position : self._position + self._chunk_size].tobytes()
        self._position += len(chunk)
        return chunk

    async def close(self) -> None:
        self._view.release()


class FileWriter(abc.ABC):
    """An upload in progress. Nothing is visible under the final name before `commit`."""

    @abc.abstractmethod
    async def write(self, chunk: bytes) -> None: ...

    def pipe_writer(self) -> PipeWriter | None:
        """How to write into a local file straight from a kernel pipe (Linux splice), if the
        backend can for this file: the server then moves an upload's bytes in the kernel."""
        return None

    @abc.abstractmethod
    async def commit(self) -> None:
        """The transfer completed: make the data visible under its final name."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """The transfer failed: drop what was written (the old file, if any, stays)."""


class Storage(abc.ABC):
    """Operations over virtual POSIX paths, each confined to the storage's root."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    # What the backend can do; the server asks these, never the backend's type.
    can_append: bool = True  # APPE
    can_resume: bool = True  # REST + STOR
    can_rename_folders: bool = True
    can_set_mtime: bool = True  # MFMT
    # scan_dir yields names in order across its batches (object stores list keys in order),
    # so a listing can be sent batch by batch, sorted, without holding the whole folder.
    lists_in_order: bool = False

    @abc.abstractmethod
    async def stat(self, path: PurePosixPath) -> FileInfo: ...

    @abc.abstractmethod
    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]: ...

    @abc.abstractmethod
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader: ...

    @abc.abstractmethod
    async def open_write(
        self, path: PurePosixPath, mode: WriteMode = WriteMode.REPLACE, offset: int = 0
    ) -> FileWriter: ...

    @abc.abstractmethod
    async def mkdir(self, path: PurePosixPath) -> None: ...

    @abc.abstractmethod
    async def rmdir(self, path: PurePosixPath) -> None: ...

    @abc.abstractmethod
    async def remove(self, path: PurePosixPath) -> None: ...

    @abc.abstractmethod
    async def rename(self, source: PurePosixPath, target: PurePosixPath) -> None: ...

    async def scan_dir(self, path: PurePosixPath, batch: int = SCAN_BATCH) -> AsyncIterator[list[FileInfo]]:
        """A folder's entries in batches of at most `batch`, in no particular order.

        A backend that can read a folder piece by piece overrides this, so that a
        pattern over a huge folder (`NLST *.log`) keeps only one batch in memory.
        """
        entries = await self.list_dir(path)
        for start in range(0, len(entries), batch):
            yield entries[start : start + batch]

    def reserved_name(self, name: str) -> str | None:
        """Why a new file or folder may not take `name` (the backend uses such names itself),
        or None: the session refuses the name with 553 and this text."""
        return None

    async def free_space(self, path: PurePosixPath) -> int:
        """Bytes a user may still store in the folder `path` (AVBL)."""
        raise NotImplementedError

    async def set_mtime(self, path: PurePosixPath, mtime: float) -> None:
        """Change a file's modification time (MFMT, so mirrors keep upload times)."""
        raise NotImplementedError

    async def chmod(self, path: PurePosixPath, mode: int) -> None:
        """Change permission bits (SITE CHMOD); only the 0o777 bits are honoured."""
        raise NotImplementedError

    async def exists(self, path: PurePosixPath) -> bool:
        try:
            await self.stat(path)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False
        return True

    async def is_dir(self, path: PurePosixPath) -> bool:
        try:
            return (await self.stat(path)).is_dir
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False
