"""Local disk backend: file data through aiofiles, metadata calls in a worker thread.

The jail lives in one place, `_real`: the virtual path is mapped under the root, every
symlink is resolved, and the result must still be inside the root.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import secrets
import stat as stat_module
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import aiofiles
import aiofiles.threadpool

from ..protocol.listing import FileInfo
from .base import DEFAULT_CHUNK_SIZE, FileReader, FileWriter, PipeWriter, Storage, WriteMode
from .mounts import opens_without_blocking

# Linux: an open descriptor's real path can be read back (see _open_for_reading).
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
        return await self._file.read(self._chunk_size)

    async def close(self) -> None:
        # Closing a file opened read-only writes nothing back, so it cannot stall on the
        # disk: done here rather than paying a worker-thread round trip per download.
        self._raw.close()

    def sendfile_source(self) -> tuple[BinaryIO, int]:
        return self._raw, self._offset


class LocalWriter(FileWriter):
    """Writes to `write_path`; in REPLACE mode that is a hidden temporary file
    renamed over `final_path` on commit."""

    def __init__(  # noqa: ANN001
        self, file, write_path: str, final_path: str, mode: WriteMode, position: int = 0
    ) -> None:
        self._file = file
        self._write_path = write_path
        self._final_path = final_path
        self._mode = mode
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
        await loop.run_in_executor(None, _drain_pipe, pipe_fd, self._file.fileno(), count, self._position)
        self._position += count

    async def commit(self) -> None:
        if self._mode is WriteMode.RESUME:
            # REST + STOR: the upload's end is the file's end.
            await self._file.truncate(self._position)
        await self._file.close()
        if self._mode is WriteMode.REPLACE:
            await asyncio.to_thread(os.replace, self._write_path, self._final_path)
        self._finished = True

    async def abort(self) -> None:
        if self._finished:
            return  # after commit: nothing to undo
        self._finished = True
        # Both truncate and close flush the buffer first, which a full disk refuses again.
        # The upload is given up anyway: the file must still be closed (it is, even when
        # the flush fails) and, for a replace, removed; an error here would lose the reply.
        try:
            if self._mode is WriteMode.RESUME:
                # Keep what arrived and nothing after it, so SIZE tells a client where to resume.
                await self._file.truncate(self._position)
        except OSError:
            pass
        finally:
            try:
                await self._file.close()
            except OSError:
                pass
        if self._mode is WriteMode.REPLACE:
            await asyncio.to_thread(_remove_quietly, self._write_path)


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


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class LocalStorage(Storage):
    def __init__(
        self,
        root: str | os.PathLike[str],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        open_inline: bool | None = None,
    ) -> None:
        self.root = os.path.realpath(root)
        self._root_prefix = self.root.rstrip(os.sep) + os.sep
        self.chunk_size = chunk_size
        # Downloads opened on the event loop itself: by default where the file system is local (mounts.py).
        self._open_inline = opens_without_blocking(self.root) if open_inline is None else open_inline

    # --- the jail -------------------------------------------------------------------
    def _real(self, path: PurePosixPath) -> str:
        """Real path of a virtual one, symlinks resolved; refuses anything outside the root.

        Blocking (it walks the path): call it inside a worker thread.
        """
        real = os.path.realpath(os.path.join(self.root, *path.parts[1:]))
        if not self._is_inside(real):
            raise PermissionError(errno.EACCES, "Path leads outside the root")
        return real

    def _is_inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self._root_prefix)

    def _open_for_reading(self, path: PurePosixPath) -> tuple[BinaryIO, int]:
        """Open a regular file below the root; anything leading outside is refused.

        Where /proc is available, the check reads where the opened descriptor really
        points: one system call instead of realpath's lstat per path component (7 % of
        the server's time in many_small), and it checks the very file that was opened,
        so a symlink swapped in between cannot slip through. O_NONBLOCK: opening a FIFO
        must not hang the worker thread (it is then refused as not a regular file).
        """
        checked_after = _PROC_FD and ".." not in path.parts  # the session resolves `..` itself
        target = os.path.join(self.root, *path.parts[1:]) if checked_after else self._real(path)
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            if checked_after and not self._is_inside(os.readlink(f"/proc/self/fd/{fd}")):
                raise PermissionError(errno.EACCES, "Path leads outside the root")
            status = os.fstat(fd)
            if stat_module.S_ISDIR(status.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            if not stat_module.S_ISREG(status.st_mode):
                raise PermissionError(errno.EACCES, "Not a regular file")
            os.set_blocking(fd, True)
            # Unbuffered: sendfile reads the descriptor itself, and read_chunk asks for whole chunks.
            return open(fd, "rb", buffering=0), status.st_size  # noqa: SIM115 - closed by the caller
        except BaseException:
            os.close(fd)
            raise

    def _real_entry(self, path: PurePosixPath) -> str:
        """Like `_real`, but a final symlink is not followed: remove and rename act on the link.

        The folder holding the entry is still resolved and checked against the root.
        """
        if path.name in ("", ".", ".."):
            return self._real(path)
        return os.path.join(self._real(path.parent), path.name)

    # --- metadata -------------------------------------------------------------------
    async def stat(self, path: PurePosixPath) -> FileInfo:
        return await asyncio.to_thread(self._stat, path)

    def _stat(self, path: PurePosixPath) -> FileInfo:
        return _info(path.name or "/", os.stat(self._real(path)))

    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        return await asyncio.to_thread(self._list_dir, path)

    def _list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        real_dir = self._real(path)
        infos = []
        with os.scandir(real_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".") and entry.name.endswith(PARTIAL_SUFFIX):
                    continue  # an upload in progress is not a file yet
                try:
                    if entry.is_symlink():
                        self._real(path / entry.name)  # hide links that lead outside
                    infos.append(_info(entry.name, entry.stat()))
                except OSError:
                    continue  # broken or escaping link, or vanished meanwhile
        return infos

    async def mkdir(self, path: PurePosixPath) -> None:
        await asyncio.to_thread(lambda: os.mkdir(self._real(path)))

    async def rmdir(self, path: PurePosixPath) -> None:
        await asyncio.to_thread(lambda: os.rmdir(self._checked_not_root(path)))

    async def remove(self, path: PurePosixPath) -> None:
        def remove() -> None:
            real = self._checked_not_root(path)
            if stat_module.S_ISDIR(os.lstat(real).st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            os.unlink(real)

        await asyncio.to_thread(remove)

    async def rename(self, source: PurePosixPath, target: PurePosixPath) -> None:
        def rename() -> None:
            real_source = self._checked_not_root(source)
            real_target = self._real_entry(target)
            if not os.path.lexists(real_source):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory")
            os.rename(real_source, real_target)

        await asyncio.to_thread(rename)

    async def set_mtime(self, path: PurePosixPath, mtime: float) -> None:
        await asyncio.to_thread(lambda: os.utime(self._real(path), (mtime, mtime)))

    async def chmod(self, path: PurePosixPath, mode: int) -> None:
        # Never setuid/setgid/sticky: a client may only change the plain permission bits.
        await asyncio.to_thread(lambda: os.chmod(self._real(path), mode & 0o777))

    def _checked_not_root(self, path: PurePosixPath) -> str:
        real = self._real_entry(path)
        if real == self.root:
            raise PermissionError(errno.EACCES, "The root folder cannot be changed")
        return real

    # --- file data ------------------------------------------------------------------
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        """Resolve, open and stat in one go: inline on a local file system, else in one
        worker-thread round trip (mounts.py). The data then goes by sendfile where the
        connection allows it; reading small files here instead cost the worker thread a
        copy per download (14 % of the server's time in many_small)."""

        def open_raw() -> tuple[BinaryIO, int]:
            raw, size = self._open_for_reading(path)
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
        final = await asyncio.to_thread(self._writable_target, path)
        if mode is WriteMode.REPLACE:
            folder, name = os.path.split(final)
            temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
            file = await aiofiles.open(temporary, "xb")
            # Held while the upload runs and dropped by the OS if this process dies, so the
            # start-up clean-up of another server process (a restarted --workers child) can
            # tell a live upload from a crash's leftover.
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return LocalWriter(file, temporary, final, mode)
        if mode is WriteMode.APPEND:
            return LocalWriter(await aiofiles.open(final, "ab"), final, final, mode)
        exists = await asyncio.to_thread(os.path.exists, final)
        file = await aiofiles.open(final, "r+b" if exists else "wb")
        await file.seek(offset)
        return LocalWriter(file, final, final, mode, position=offset)

    def _writable_target(self, path: PurePosixPath) -> str:
        real = self._real(path)
        if os.path.isdir(real):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        # The OS's own error for a missing folder (ENOENT) or a file on the way (ENOTDIR).
        if not stat_module.S_ISDIR(os.stat(os.path.dirname(real)).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        return real

    def remove_partial_uploads(self) -> list[Path]:
        """Delete temporary upload files left by a crash (call before serving).

        Files that a live process still writes (it holds their lock) are left alone.
        """
        removed = []
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
                    stray = Path(folder, name)
                    if not _upload_in_progress(stray):
                        stray.unlink(missing_ok=True)
                        removed.append(stray)
        return removed


def _upload_in_progress(path: Path) -> bool:
    """Whether a live process holds the upload lock of this temporary file."""
    try:
        with path.open("rb") as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the close
    except BlockingIOError:
        return True
    except FileNotFoundError:
        pass
    return False
