"""Which kind of file system holds a folder: decides whether opening files may block.

Opening a file on a local file system is a lookup in the kernel's dentry and inode
caches, a few microseconds, usually with no disk access; the local backend then opens
downloads on the event loop itself. A worker-thread round trip costs more than that
(benchmarks/README.md, "Why the code is shaped so"). Network and FUSE file systems can stall for seconds,
so there the open keeps its worker thread.
"""

from __future__ import annotations

import functools
import os

# Kernel-local file systems whose open() does not wait on a network or a user-space daemon.
LOCAL_FILESYSTEMS = frozenset({
    "btrfs", "exfat", "ext2", "ext3", "ext4", "f2fs", "jfs", "msdos", "ntfs3", "overlay",
    "ramfs", "reiserfs", "tmpfs", "vfat", "xfs", "zfs", "bcachefs",
})  # fmt: skip


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in mount points as octal escapes."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def filesystem_type(path: str, mountinfo: str) -> str | None:
    """Type of the file system `path` (absolute, symlinks resolved) lies on, per `mountinfo`
    (the text of /proc/self/mountinfo): the type of the longest mount point above it."""
    best_point, best_type = "", None
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:] or len(fields) < 5:
            continue
        point = _unescape(fields[4])
        fs_type = fields[fields.index("-", 6) + 1]
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best_point):  # later mounts over the same point win
            best_point, best_type = point, fs_type
    return best_type


@functools.cache
def opens_without_blocking(folder: str) -> bool:
    """True if `folder` is on a local file system (Linux); False where that is unknown."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
            mountinfo = table.read()
    except OSError:
        return False
    return filesystem_type(os.path.realpath(folder), mountinfo) in LOCAL_FILESYSTEMS
