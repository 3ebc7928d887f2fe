"""In-memory backend: the same interface with no disk, for fast tests and embedding.

It raises the same OS errors as the local backend, so the server cannot tell them apart.
"""

from __future__ import annotations

import errno
import itertools
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..protocol.listing import FileInfo
from .base import DEFAULT_CHUNK_SIZE, SCAN_BATCH, BytesReader, FileReader, FileWriter, Storage, WriteMode

_inode_numbers = itertools.count(1)


@dataclass
class _Node:
    mtime: float = field(default_factory=time.time)
    inode: int = field(default_factory=lambda: next(_inode_numbers))
    mode: int | None = None  # None: the default for its kind


@dataclass
class _File(_Node):
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _Folder(_Node):
    children: dict[str, _Node] = field(default_factory=dict)


def _not_found() -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory")


def _info(name: str, node: _Node) -> FileInfo:
    is_dir = isinstance(node, _Folder)
    size = 0 if is_dir else len(node.data)  # type: ignore[attr-defined]
    mode = node.mode if node.mode is not None else (0o755 if is_dir else 0o644)
    return FileInfo(name, is_dir, size, node.mtime, mode, f"m{node.inode:x}")


class MemoryWriter(FileWriter):
    def __init__(
        self, storage: MemoryStorage, folder: _Folder, name: str, mode: WriteMode, offset: int
    ) -> None:
        self._storage = storage
        self._folder, self._name, self._mode = folder, name, mode
        existing = folder.children.get(name)
        start = existing.data[:offset] if isinstance(existing, _File) else bytearray()
        # REPLACE builds a new buffer, so readers of the old file keep seeing it until commit.
        # RESUME past the end leaves a gap of zero bytes, as a seek and write on disk does.
        self._buffer = bytearray(start).ljust(offset, b"\0") if mode is WriteMode.RESUME else bytearray()
        if mode is WriteMode.APPEND and isinstance(existing, _File):
            self._buffer = existing.data

    async def write(self, chunk: bytes) -> None:
        # A replacement is published only at commit: what it holds so far counts as well.
        self._storage.reserve(len(chunk) + (len(self._buffer) if self._mode is WriteMode.REPLACE else 0))
        self._buffer += chunk
        if self._mode is not WriteMode.REPLACE:
            self._publish()  # APPE and REST keep what arrived, like the local backend

    async def commit(self) -> None:
        self._publish()

    async def abort(self) -> None:
        pass

    def _publish(self) -> None:
        existing = self._folder.children.get(self._name)
        if isinstance(existing, _File) and existing.data is self._buffer:
            existing.mtime = time.time()
        else:
            self._folder.children[self._name] = _File(data=self._buffer)
        self._folder.mtime = time.time()


class MemoryStorage(Storage):
    """`capacity`: the bytes of file data it may hold (a full one refuses writes with ENOSPC);
    None: limited by the machine's memory only."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE, capacity: int | None = None) -> None:
        self._root = _Folder()
        self.chunk_size = chunk_size
        self.capacity = capacity

    def _used(self) -> int:
        total, folders = 0, [self._root]
        while folders:
            for child in folders.pop().children.values():
                if isinstance(child, _Folder):
                    folders.append(child)
                else:
                    total += len(child.data)  # type: ignore[attr-defined]
        return total

    def reserve(self, size: int) -> None:
        if self.capacity is not None and self._used() + size > self.capacity:
            raise OSError(errno.ENOSPC, "No space left on device")

    async def free_space(self, path: PurePosixPath) -> int:
        if not isinstance(self._node(path), _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        if self.capacity is None:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return max(0, self.capacity - self._used())

    def _node(self, path: PurePosixPath) -> _Node:
        node: _Node = self._root
        for part in path.parts[1:]:
            if not isinstance(node, _Folder):
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
            child = node.children.get(part)
            if child is None:
                raise _not_found()
            node = child
        return node

    def _parent(self, path: PurePosixPath) -> _Folder:
        if path == path.parent:
            raise PermissionError(errno.EACCES, "The root folder cannot be changed")
        parent = self._node(path.parent)
        if not isinstance(parent, _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        return parent

    async def stat(self, path: PurePosixPath) -> FileInfo:
        return _info(path.name or "/", self._node(path))

    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        node = self._node(path)
        if not isinstance(node, _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        return [_info(name, child) for name, child in node.children.items()]

    async def scan_dir(self, path: PurePosixPath, batch: int = SCAN_BATCH) -> AsyncIterator[list[FileInfo]]:
        node = self._node(path)
        if not isinstance(node, _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        names = list(node.children)  # a folder changed meanwhile must not break the walk
        for start in range(0, len(names), batch):
            chunk = ((name, node.children.get(name)) for name in names[start : start + batch])
            yield [_info(name, child) for name, child in chunk if child is not None]

    async def mkdir(self, path: PurePosixPath) -> None:
        if path == path.parent:
            raise FileExistsError(errno.EEXIST, "File exists")  # the root, as the OS says
        parent = self._parent(path)
        if path.name in parent.children:
            raise FileExistsError(errno.EEXIST, "File exists")
        parent.children[path.name] = _Folder()
        parent.mtime = time.time()

    async def rmdir(self, path: PurePosixPath) -> None:
        parent = self._parent(path)
        node = self._node(path)
        if not isinstance(node, _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        if node.children:
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        del parent.children[path.name]

    async def remove(self, path: PurePosixPath) -> None:
        parent = self._parent(path)
        if isinstance(self._node(path), _Folder):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        del parent.children[path.name]

    async def rename(self, source: PurePosixPath, target: PurePosixPath) -> None:
        source_parent = self._parent(source)
        node = self._node(source)
        target_parent = self._parent(target)
        if target == source:
            return  # rename(2) onto itself succeeds and changes nothing
        if isinstance(node, _Folder) and source in target.parents:
            raise OSError(errno.EINVAL, "Cannot move a folder into itself")
        existing = target_parent.children.get(target.name)
        # The errors rename(2) gives on Linux, in its order.
        if isinstance(existing, _Folder) and not isinstance(node, _Folder):
            raise IsADirectoryError(errno.EISDIR, "Target is a directory")
        if existing is not None and isinstance(node, _Folder) and not isinstance(existing, _Folder):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        if isinstance(existing, _Folder) and existing.children:
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        del source_parent.children[source.name]
        target_parent.children[target.name] = node

    async def set_mtime(self, path: PurePosixPath, mtime: float) -> None:
        self._node(path).mtime = mtime

    async def chmod(self, path: PurePosixPath, mode: int) -> None:
        self._node(path).mode = mode & 0o777

    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        node = self._node(path)
        if not isinstance(node, _File):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        return BytesReader(bytes(node.data[offset:]), len(node.data), self.chunk_size)

    async def open_write(
        self, path: PurePosixPath, mode: WriteMode = WriteMode.REPLACE, offset: int = 0
    ) -> FileWriter:
        parent = self._parent(path)
        if isinstance(parent.children.get(path.name), _Folder):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        return MemoryWriter(self, parent, path.name, mode, offset)
