"""The root jail, enforced by the kernel: every path is resolved from an open descriptor
of the root, never checked as a string and then used.

A check-then-use jail (realpath, then open the path) loses to anyone who swaps a folder
for a symlink in between: a local process, or a second FTP session renaming folders
that hold a link leading outside. Here every lookup starts at the held root descriptor
and the kernel keeps it beneath:

- `openat2(2)` with RESOLVE_BENEATH (Linux 5.6+): one system call; symlinks inside the
  root are followed, and anything that would leave it (`..` above the root, an absolute
  link, a link leading out) fails with EXDEV. RESOLVE_NO_SYMLINKS is not used: links that
  stay inside the root must keep working.
- Elsewhere, and for absolute links (which RESOLVE_BENEATH refuses even when they point
  inside the root): a walk one component at a time, each folder opened with O_NOFOLLOW
  relative to the previous one, links followed by hand.

Callers then act on descriptors only: `*at` calls on the held folder (`dir_fd=`), and
O_NOFOLLOW on the final name, so no swap after the lookup can redirect them. Nothing
about intermediate folders is cached: a cache would bring the race back.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat as stat_module
import sys
from collections import deque
from collections.abc import Callable, Sequence

# Without O_PATH (not Linux) a plain read-only open; O_NONBLOCK so a FIFO cannot hang it.
O_PATH = getattr(os, "O_PATH", os.O_RDONLY | os.O_NONBLOCK)
_FOLDER = O_PATH | os.O_DIRECTORY

_SYS_OPENAT2 = 437  # the same number on every architecture with the generic syscall table
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS
_RACE_RETRIES = 8  # openat2 says EAGAIN when a rename raced its `..` handling: try again
_MAX_LINKS = 40  # as the kernel's own limit


def outside_root() -> PermissionError:
    return PermissionError(errno.EACCES, "Path leads outside the root")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_openat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    return syscall


_syscall = _load_openat2()
_openat2_works: bool | None = None  # found out on first use: old kernels, seccomp filters
_hows: dict[tuple[int, int], _OpenHow] = {}  # read-only once made: shared by all threads


def _openat2(dir_fd: int, path: bytes, flags: int, mode: int) -> int:
    if not flags & os.O_CREAT:
        mode = 0  # openat2 refuses a mode it would not use
    how = _hows.get((flags, mode))
    if how is None:
        how = _hows.setdefault((flags, mode), _OpenHow(flags, mode, _RESOLVE))
    assert _syscall is not None  # only called once the probe found openat2
    fd = _syscall(_SYS_OPENAT2, dir_fd, path, ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def _probe_openat2(dir_fd: int) -> bool:
    """Whether this kernel (and any seccomp filter around us) lets openat2 through."""
    if _syscall is None:
        return False
    try:
        os.close(_openat2(dir_fd, b".", _FOLDER | os.O_CLOEXEC, 0))
    except OSError as error:
        if error.errno in (errno.ENOSYS, errno.EPERM, errno.E2BIG, errno.EINVAL):
            return False
        raise
    return True


class Jail:
    """An open root folder; resolves relative paths (a sequence of names) beneath it.

    Every method returns a descriptor the caller owns and must close. Thread-safe: the
    only state is the root descriptor, which lives as long as the jail.
    """

    def __init__(self, root: str) -> None:
        global _openat2_works
        self.root = os.path.realpath(root)
        self._root_prefix = self.root.rstrip("/") + "/"
        self.fd = os.open(self.root, _FOLDER | os.O_CLOEXEC)
        if _openat2_works is None:
            _openat2_works = _probe_openat2(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def open(self, names: Sequence[str], flags: int, mode: int = 0o666) -> int:
        """Open the entry (symlinks followed, all inside the root) with `flags`."""
        if _openat2_works:
            path = os.fsencode("/".join(names)) if names else b"."
            for _attempt in range(_RACE_RETRIES):
                try:
                    return _openat2(self.fd, path, flags | os.O_CLOEXEC, mode)
                except OSError as error:
                    if error.errno == errno.EXDEV:
                        break  # leaving the root, or an absolute link: the walk tells which
                    if error.errno != errno.EAGAIN:
                        raise
        folder, name = self._walk(names, follow_final=True)
        try:
            return os.open(name, flags | os.O_CLOEXEC | os.O_NOFOLLOW, mode, dir_fd=folder)
        finally:
            os.close(folder)

    def folder_of(self, names: Sequence[str]) -> tuple[int, str]:
        """The folder holding the entry (a descriptor) and the entry's name, which is not
        followed: for mkdir, rmdir, unlink, rename, which act on the entry itself."""
        if not names:
            raise PermissionError(errno.EACCES, "The root folder cannot be changed")
        return self.open(names[:-1], _FOLDER), names[-1]

    def locate(self, names: Sequence[str]) -> tuple[int, str]:
        """Like `folder_of`, but a final symlink is followed (inside the root) to the entry
        it names, which may not exist yet: where an upload writes."""
        folder, name = self.folder_of(names)
        try:
            is_link = stat_module.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            is_link = False
        except BaseException:
            os.close(folder)
            raise
        if not is_link:
            return folder, name
        os.close(folder)
        return self._walk(names, follow_final=True)

    def _walk(self, names: Sequence[str], follow_final: bool) -> tuple[int, str]:
        """Resolve one component at a time: (folder descriptor, final name). The name is
        "." when the path ends on a folder itself (the root, or a link to a folder)."""
        folders: list[int] = []  # opened below the root, innermost last; owned here
        pending = deque(names)
        links = 0
        try:
            while pending:
                name = pending.popleft()
                if name in ("", "."):
                    continue
                if name == "..":
                    if not folders:
                        raise outside_root()
                    os.close(folders.pop())
                    continue
                here = folders[-1] if folders else self.fd
                last = not pending
                if last and not follow_final:
                    return self._hand_over(folders), name
                try:
                    status = os.stat(name, dir_fd=here, follow_symlinks=False)
                except FileNotFoundError:
                    if last:  # a new entry, to be created
                        return self._hand_over(folders), name
                    raise
                if stat_module.S_ISLNK(status.st_mode):
                    links += 1
                    if links > _MAX_LINKS:
                        raise OSError(errno.ELOOP, "Too many levels of symbolic links")
                    target = os.readlink(name, dir_fd=here)
                    if target.startswith("/"):
                        target = self._below_root(target)
                        while folders:
                            os.close(folders.pop())
                    pending.extendleft(reversed(target.split("/")))
                    continue
                if last:
                    return self._hand_over(folders), name
                # O_NOFOLLOW: if a link was swapped in since the stat, this fails instead of following it.
                folders.append(os.open(name, _FOLDER | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=here))
            return self._hand_over(folders), "."
        except BaseException:
            for fd in folders:
                os.close(fd)
            raise

    def _hand_over(self, folders: list[int]) -> int:
        """The innermost folder, for the caller to own; the others closed."""
        innermost = folders.pop() if folders else os.dup(self.fd)
        while folders:
            os.close(folders.pop())
        return innermost

    def _below_root(self, target: str) -> str:
        """An absolute link's target, relative to the root; refused if it is not below it.

        Only the link's text is compared here: what it names is then looked up again from
        the root descriptor, one component at a time.
        """
        if target == self.root:
            return "."
        if not target.startswith(self._root_prefix):
            raise outside_root()
        return target[len(self._root_prefix) :]
