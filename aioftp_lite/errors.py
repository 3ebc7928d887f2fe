"""Errors that carry an FTP reply, and the one table that maps OS errors to replies."""

from __future__ import annotations

import errno

from .protocol.replies import Code, Reply


class FTPError(Exception):
    """Raised anywhere in a handler (server) or received from a peer (client): carries the reply."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.reply = Reply(code, text)

    @property
    def code(self) -> int:
        return self.reply.code


# errno -> (code, message). Anything else becomes 451 with the OS's own words.
_OS_ERROR_REPLIES: dict[int, tuple[int, str]] = {
    errno.ENOENT: (Code.FILE_UNAVAILABLE, "No such file or directory"),
    errno.ENOTDIR: (Code.FILE_UNAVAILABLE, "Not a directory"),
    errno.ELOOP: (Code.FILE_UNAVAILABLE, "Too many levels of symbolic links"),
    errno.EISDIR: (Code.FILE_UNAVAILABLE, "Is a directory"),
    errno.EEXIST: (Code.FILE_UNAVAILABLE, "File exists"),
    errno.ENOTEMPTY: (Code.FILE_UNAVAILABLE, "Directory not empty"),
    errno.EACCES: (Code.FILE_UNAVAILABLE, "Permission denied"),
    errno.EPERM: (Code.FILE_UNAVAILABLE, "Permission denied"),
    errno.EROFS: (Code.FILE_UNAVAILABLE, "Read-only file system"),  # permanent: 550, not "try again" 451
    errno.EINVAL: (Code.FILE_UNAVAILABLE, "Invalid operation"),
    errno.ENAMETOOLONG: (Code.BAD_FILE_NAME, "File name too long"),
    errno.ENOSPC: (Code.INSUFFICIENT_STORAGE, "No space left on device"),
    errno.EDQUOT: (Code.EXCEEDED_STORAGE, "Disk quota exceeded"),
    errno.EFBIG: (Code.EXCEEDED_STORAGE, "File too large"),
    # The server's own descriptors or memory ran out: transient, the client may try again.
    errno.EMFILE: (Code.LOCAL_ERROR, "Server out of resources (open files), try again later"),
    errno.ENFILE: (Code.LOCAL_ERROR, "Server out of resources (open files), try again later"),
    errno.ENOBUFS: (Code.LOCAL_ERROR, "Server out of resources (buffers), try again later"),
    errno.ENOMEM: (Code.LOCAL_ERROR, "Server out of resources (memory), try again later"),
}


def reply_for_os_error(error: OSError) -> Reply:
    code, message = _OS_ERROR_REPLIES.get(
        error.errno or 0, (Code.LOCAL_ERROR, error.strerror or "Local error in processing")
    )
    # Use the backend's text where it is more specific (e.g. "Path leads outside the root").
    if error.strerror and error.errno in (errno.EACCES, errno.EINVAL):
        message = error.strerror
    return Reply(code, message)
