"""Which file system a folder lies on (decides inline or worker-thread opens)."""

from __future__ import annotations

import os

import pytest

from aioftp_lite.storage.mounts import filesystem_type, opens_without_blocking

MOUNTINFO = "\n".join([
    "22 27 0:21 / /proc rw,relatime - proc proc rw",
    "27 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
    "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k",
    "40 27 0:40 / /srv/ftp rw,relatime shared:20 master:3 - nfs4 server:/export rw,vers=4.2",
    "41 40 0:41 / /srv/ftp/cache rw,relatime - tmpfs tmpfs rw",
    "42 27 0:42 / /mnt/my\\040disk rw - fuse.sshfs host:/ rw",
    "43 27 0:43 / /srv/ftp2 rw - xfs /dev/vdb rw",
])  # fmt: skip


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/", "ext4"),
        ("/home/user", "ext4"),
        ("/dev/shm/x", "tmpfs"),
        ("/srv/ftp", "nfs4"),
        ("/srv/ftp/pub", "nfs4"),
        ("/srv/ftp/cache/a", "tmpfs"),  # the deepest mount point wins
        ("/srv/ftp2", "xfs"),  # not under /srv/ftp: a name prefix is not a parent folder
        ("/mnt/my disk/files", "fuse.sshfs"),  # escaped space in the mount point
        ("/proc/self", "proc"),
    ],
)
def test_filesystem_type_is_the_deepest_mount_above(path: str, expected: str) -> None:
    assert filesystem_type(path, MOUNTINFO) == expected


def test_a_tmpfs_folder_opens_inline_and_proc_does_not() -> None:
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this machine")
    assert opens_without_blocking("/dev/shm") is True  # tmpfs
    assert opens_without_blocking("/proc") is False
