"""Local disk backend: file data through aiofiles, metadata calls in a worker thread.

The jail lives in jail.py: every path is looked up beneath a held descriptor of the
root, and every operation then acts on descriptors (the folder holding an entry, or the
opened file), never on a path checked earlier.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import secrets
import stat as stat_module
import weakref
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import aiofiles
import aiofiles.threadpool

from ..protocol.listing import FileInfo
from .base import DEFAULT_CHUNK_SIZE, FileReader, FileWriter, PipeWriter, Storage, WriteMode
from .jail import O_PATH, Jail, outside_root
from .mounts import opens_without_blocking

# Linux: a descriptor can be named as a path (see LocalStorage._on_file).
_PROC_FD = os.path.isdir("/proc/self/fd")

# Uploads in progress live beside their target under this suffix, hidden by the leading dot.
PARTIAL_SUFFIX = ".aioftp-part"


def _info(name: str, result: os.stat_result) -> FileInfo:
    return FileInfo(
        name=name,
        is_dir=stat_module.S_ISDIR(result.st_mode),
        size=result.st_size,
        mtime=result.st_mtime,
        mode=stat_module.S_IMODE(result.st_mode),
        unique=f"{result.st_dev:x}g{result.st_ino:x}",
        links=result.st_nlink,
    )


class LocalReader(FileReader):
    def __init__(self, raw: BinaryIO, offset: int, chunk_size: int, size: int) -> None:
        self._raw = raw
        self._offset = offset
        self._file: Any = None  # the aiofiles wrapper, made on first read: most downloads go by sendfile
        self._chunk_size = chunk_size
        self.size = size

    async def read_chunk(self) -> bytes:
        if self._file is None:
            self._file = aiofiles.threadpool.wrap(self._raw, loop=asyncio.get_running_loop(), executor=None)
        chunk: bytes = await self._file.read(self._chunk_size)
        return chunk

    async def close(self) -> None:
        # Closing a file opened read-only writes nothing back, so it cannot stall on the
        # disk: done here rather than paying a worker-thread round trip per download.
        self._raw.close()

    def local_file(self) -> tuple[BinaryIO, int]:
        return self._raw, self._offset


class LocalWriter(FileWriter):
    """Writes to `written_name` in `folder`, a held folder descriptor. In REPLACE mode that
    is a hidden temporary file renamed over `name` on commit, within the same descriptor,
    so a swap of the folder's path meanwhile cannot redirect the rename. The writer owns
    `raw` and `folder`."""

    def __init__(
        self, raw: BinaryIO, folder: int, written_name: str, name: str, mode: WriteMode,
        fsync: bool, position: int = 0,
    ) -> None:  # fmt: skip
        self._raw = raw
        self._file = aiofiles.threadpool.wrap(raw, loop=asyncio.get_running_loop(), executor=None)
        self._folder = folder
        self._written_name = written_name
        self._name = name
        self._mode = mode
        self._fsync = fsync
        self._finished = False
        # Where the next byte goes; kept here because pipe writes bypass the file object.
        self._position = position

    async def write(self, chunk: bytes) -> None:
        await self._file.write(chunk)
        self._position += len(chunk)

    def pipe_writer(self) -> PipeWriter | None:
        # An O_APPEND file refuses splice (EINVAL); APPE keeps the ordinary path.
        if self._mode is WriteMode.APPEND or not hasattr(os, "splice"):
            return None
        return self._write_from_pipe

    async def _write_from_pipe(self, pipe_fd: int, count: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _drain_pipe, pipe_fd, self._raw.fileno(), count, self._position)
        self._position += count

    async def commit(self) -> None:
        await asyncio.to_thread(self._commit)
        self._finished = True

    def _commit(self) -> None:
        """In a worker thread: the data reaches the disk before the name does, and the
        name before the 226 (with fsync on); a failure leaves the clean-up to `abort`."""
        if self._mode is WriteMode.RESUME:
            self._raw.truncate(self._position)  # REST + STOR: the upload's end is the file's end
        self._raw.flush()
        if self._fsync:
            os.fsync(self._raw.fileno())
        self._raw.close()
        if self._mode is WriteMode.REPLACE:
            os.rename(self._written_name, self._name, src_dir_fd=self._folder, dst_dir_fd=self._folder)
        if self._fsync:
            _fsync_folder(self._folder)  # the new name (or a file APPE/REST created) survives a power cut
        os.close(self._folder)

    async def abort(self) -> None:
        if self._finished:
            return  # after commit: nothing to undo
        self._finished = True
        await asyncio.to_thread(self._abort)

    def _abort(self) -> None:
        # Both truncate and close flush the buffer first, which a full disk refuses again.
        # The upload is given up anyway: the file must still be closed (it is, even when
        # the flush fails) and, for a replace, removed; an error here would lose the reply.
        try:
            if self._mode is WriteMode.RESUME:
                # Keep what arrived and nothing after it, so SIZE tells a client where to resume.
                self._raw.truncate(self._position)
        except OSError:
            pass
        finally:
            try:
                self._raw.close()
            except OSError:
                pass
        try:
            if self._mode is WriteMode.REPLACE:
                os.unlink(self._written_name, dir_fd=self._folder)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._folder)


def _drain_pipe(pipe_fd: int, file_fd: int, count: int, position: int) -> None:
    """In a worker thread: `count` bytes (already in the pipe) into the file at `position`."""
    while count:
        try:
            moved = os.splice(pipe_fd, file_fd, count, offset_dst=position)
        except OSError as error:
            if error.errno != errno.EINVAL:  # a file system without splice: copy through memory
                raise
            data = os.read(pipe_fd, count)
            written = 0
            while written < len(data):
                written += os.pwrite(file_fd, data[written:], position + written)
            moved = len(data)
        count -= moved
        position += moved


def _fsync_folder(folder: int) -> None:
    # `folder` may be an O_PATH descriptor, which fsync refuses: open the folder itself.
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _not_regular() -> PermissionError:
    return PermissionError(errno.EACCES, "Not a regular file")


def _regular(fd: int) -> os.stat_result:
    """The status of an opened file; refuses (and closes) anything but a regular file, and
    makes it blocking again (it was opened with O_NONBLOCK, so a FIFO could not hang)."""
    try:
        status = os.fstat(fd)
        if stat_module.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        if not stat_module.S_ISREG(status.st_mode):
            raise _not_regular()
        os.set_blocking(fd, True)
        return status
    except BaseException:
        os.close(fd)
        raise


def _names(path: PurePosixPath) -> tuple[str, ...]:
    """The names below the root. The session never passes `..` (it resolves paths itself)."""
    names = path.parts[1:]
    if ".." in names:
        raise outside_root()
    return names


class LocalStorage(Storage):
    def __init__(
        self,
        root: str | os.PathLike[str],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        open_inline: bool | None = None,
        fsync: bool = True,
    ) -> None:
        # The root stays open as long as the storage: every path is resolved beneath it.
        self._jail = Jail(os.fspath(root))
        self.close = weakref.finalize(self, self._jail.close)
        self.root = self._jail.root
        self.chunk_size = chunk_size
        self.fsync = fsync
        # Downloads opened on the event loop itself: by default where the file system is local (mounts.py).
        self._open_inline = opens_without_blocking(self.root) if open_inline is None else open_inline

    def reserved_name(self, name: str) -> str | None:
        # A user file so named would be taken for a crash leftover and deleted at the next start.
        return (
            f"File names ending in {PARTIAL_SUFFIX} are reserved" if name.endswith(PARTIAL_SUFFIX) else None
        )

    # --- metadata -------------------------------------------------------------------
    async def stat(self, path: PurePosixPath) -> FileInfo:
        return await asyncio.to_thread(self._stat, path)

    def _stat(self, path: PurePosixPath) -> FileInfo:
        return _info(path.name or "/", self._status(_names(path)))

    def _status(self, names: tuple[str, ...]) -> os.stat_result:
        fd = self._jail.open(names, O_PATH)  # O_PATH: not even a FIFO's open can wait
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    async def free_space(self, path: PurePosixPath) -> int:
        return await asyncio.to_thread(self._free_space, path)

    def _free_space(self, path: PurePosixPath) -> int:
        fd = self._jail.open(_names(path), O_PATH)
        try:
            if not stat_module.S_ISDIR(os.fstat(fd).st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
            usage = os.fstatvfs(fd)
        finally:
            os.close(fd)
        return usage.f_bavail * usage.f_frsize  # what an unprivileged user may still fill

    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        return await asyncio.to_thread(self._list_dir, path)

    def _list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        names = _names(path)
        folder = self._jail.open(names, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK)
        infos = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(PARTIAL_SUFFIX):
                        continue  # an upload in progress is not a file yet (nor a name users may take)
                    try:
                        status = entry.stat(follow_symlinks=False)  # relative to the held folder
                        if stat_module.S_ISLNK(status.st_mode):
                            # Looked up again from the root: a link leading outside stays hidden.
                            status = self._status((*names, entry.name))
                    except OSError:
                        continue  # broken or escaping link, or vanished meanwhile
                    infos.append(_info(entry.name, status))
        finally:
            os.close(folder)
        return infos

    async def mkdir(self, path: PurePosixPath) -> None:
        def mkdir() -> None:
            if not _names(path):
                raise FileExistsError(errno.EEXIST, "File exists")
            self._in_folder(path, lambda folder, name: os.mkdir(name, dir_fd=folder))

        await asyncio.to_thread(mkdir)

    async def rmdir(self, path: PurePosixPath) -> None:
        await asyncio.to_thread(self._in_folder, path, lambda folder, name: os.rmdir(name, dir_fd=folder))

    async def remove(self, path: PurePosixPath) -> None:
        def remove(folder: int, name: str) -> None:
            if stat_module.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            os.unlink(name, dir_fd=folder)  # a link itself, never what it points to

        await asyncio.to_thread(self._in_folder, path, remove)

    async def rename(self, source: PurePosixPath, target: PurePosixPath) -> None:
        def rename() -> None:
            source_folder, source_name = self._jail.folder_of(_names(source))
            try:
                target_folder, target_name = self._jail.folder_of(_names(target))
                try:
                    os.rename(source_name, target_name, src_dir_fd=source_folder, dst_dir_fd=target_folder)
                finally:
                    os.close(target_folder)
            finally:
                os.close(source_folder)

        await asyncio.to_thread(rename)

    def _in_folder(self, path: PurePosixPath, action: Callable[[int, str], None]) -> None:
        """`action(folder descriptor, name)` on the entry itself (a final link is not followed)."""
        folder, name = self._jail.folder_of(_names(path))
        try:
            action(folder, name)
        finally:
            os.close(folder)

    async def set_mtime(self, path: PurePosixPath, mtime: float) -> None:
        await asyncio.to_thread(self._on_file, path, lambda file: os.utime(file, (mtime, mtime)))

    async def chmod(self, path: PurePosixPath, mode: int) -> None:
        # Never setuid/setgid/sticky: a client may only change the plain permission bits.
        await asyncio.to_thread(self._on_file, path, lambda file: os.chmod(file, mode & 0o777))

    def _on_file(self, path: PurePosixPath, action: Callable[[str | int], None]) -> None:
        """`action` on the file the path names, through a descriptor. Linux: an O_PATH one,
        reached through /proc (it opens nothing and needs no read permission); elsewhere
        a read-only descriptor (fchmod, futimes)."""
        fd = self._jail.open(_names(path), O_PATH if _PROC_FD else os.O_RDONLY | os.O_NONBLOCK)
        try:
            if stat_module.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(errno.ELOOP, "Too many levels of symbolic links")  # a link swapped in
            action(f"/proc/self/fd/{fd}" if _PROC_FD else fd)
        finally:
            os.close(fd)

    # --- file data ------------------------------------------------------------------
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        """Resolve, open and stat in one go: inline on a local file system, else in one
        worker-thread round trip (mounts.py). The data then goes by sendfile where the
        connection allows it; reading small files here instead cost the worker thread a
        copy per download (14 % of the server's time in many_small)."""

        def open_raw() -> tuple[BinaryIO, int]:
            try:
                fd = self._jail.open(_names(path), os.O_RDONLY | os.O_NONBLOCK)
            except OSError as error:
                raise _not_regular() if error.errno == errno.ENXIO else error from None  # a socket file
            size = _regular(fd).st_size
            # Unbuffered: sendfile reads the descriptor itself, and read_chunk asks for whole chunks.
            raw = open(fd, "rb", buffering=0)  # noqa: SIM115 - closed by the reader
            try:
                if offset:
                    raw.seek(offset)
                return raw, size
            except BaseException:
                raw.close()
                raise

        if self._open_inline:
            raw, size = open_raw()
        else:
            raw, size = await asyncio.get_running_loop().run_in_executor(None, open_raw)
        return LocalReader(raw, offset, self.chunk_size, size)

    async def open_write(
        self, path: PurePosixPath, mode: WriteMode = WriteMode.REPLACE, offset: int = 0
    ) -> FileWriter:
        raw, folder, written_name, name = await asyncio.to_thread(self._open_for_writing, path, mode, offset)
        return LocalWriter(raw, folder, written_name, name, mode, self.fsync, position=offset)

    def _open_for_writing(
        self, path: PurePosixPath, mode: WriteMode, offset: int
    ) -> tuple[BinaryIO, int, str, str]:
        """(file, held folder, name written to, final name), a final link followed inside the root."""
        names = _names(path)
        if not names:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        folder, name = self._jail.locate(names)
        try:
            if mode is WriteMode.REPLACE:
                _check_replaceable(folder, name)
                raw, temporary = _temporary_file(folder)
                return raw, folder, temporary, name
            flags = os.O_WRONLY | os.O_APPEND if mode is WriteMode.APPEND else os.O_RDWR
            try:
                fd = os.open(name, flags | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                             dir_fd=folder)  # fmt: skip
            except OSError as error:
                raise _not_regular() if error.errno == errno.ENXIO else error from None  # a FIFO nobody reads
            _regular(fd)
            raw = open(fd, "ab" if mode is WriteMode.APPEND else "r+b")  # noqa: SIM115 - the writer's
            if offset:
                raw.seek(offset)
            return raw, folder, name, name
        except BaseException:
            os.close(folder)
            raise

    def remove_partial_uploads(self) -> list[Path]:
        """Delete temporary upload files left by a crash (call before serving).

        Files that a live process still writes (it holds their lock) are left alone. The
        walk goes by descriptors and never follows a link.
        """
        removed = []
        for folder, _dirs, files, folder_fd in os.fwalk(".", dir_fd=self._jail.fd):
            for name in files:
                if name.startswith(".") and name.endswith(PARTIAL_SUFFIX) and _is_stale(name, folder_fd):
                    try:
                        os.unlink(name, dir_fd=folder_fd)
                    except FileNotFoundError:
                        continue
                    removed.append(Path(self.root, folder, name))
        return removed


def _check_replaceable(folder: int, name: str) -> None:
    """An upload may replace a file (or a link, which locate followed unless one was swapped in)."""
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode  # ENAMETOOLONG: 553
    except FileNotFoundError:
        return
    if stat_module.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory")
    if not (stat_module.S_ISREG(mode) or stat_module.S_ISLNK(mode)):
        raise _not_regular()


def _temporary_file(folder: int) -> tuple[BinaryIO, str]:
    """A new hidden file in the held folder. Its name has a fixed length, whatever the
    final name's: that one may use all the file system allows (255 bytes)."""
    name = f".{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=folder)
    try:
        # Held while the upload runs and dropped by the OS if this process dies, so the
        # start-up clean-up of another server process (a restarted --workers child) can
        # tell a live upload from a crash's leftover.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return open(fd, "wb"), name
    except BaseException:
        os.close(fd)
        os.unlink(name, dir_fd=folder)
        raise


def _is_stale(name: str, folder: int) -> bool:
    """Whether this is a regular file whose upload lock no live process holds."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return False  # a link, vanished, unreadable: not ours to remove
    try:
        if not stat_module.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the close
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
