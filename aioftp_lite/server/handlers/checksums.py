"""HASH (draft-ietf-ftpext2-hash) and the one-algorithm commands WinSCP sends (XSHA256, XSHA1,
XMD5, XCRC, XSHA512): a file's checksum without downloading it.

The hash runs as the session's transfer task: the session keeps reading commands, so ABOR
stops it (426, then 226), and any other command waits for it, so a session hashes one file
at a time and its replies stay in order. The file is read and hashed in blocks in worker
threads (hashlib and zlib release the GIL), one block per job, so the event loop never
hashes and a long hash shares the thread pool fairly with other sessions' file I/O.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import FTPError, reply_for_os_error
from ...protocol.hashes import ALIASES, Hasher, choose_algorithm, feature_line, format_hash_reply, new_hasher
from ...protocol.replies import Code, Reply
from ...storage.base import FileReader
from ..dispatch import Arg, Handler, command

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")

T = TypeVar("T")

HASH_BLOCK = 1024 * 1024  # bytes per worker-thread job
LEGACY_OK = Code.FILE_ACTION_OK  # what ProFTPD's mod_digest answers the X commands with


@command("HASH", argument=Arg.REQUIRED, permission="read", syntax="HASH <file>",
         help="checksum of a file without downloading it (OPTS HASH chooses the algorithm)",
         feature=feature_line())  # fmt: skip
async def hash_(session: Session, argument: str) -> None:
    await _start(session, argument, session.params.hash_algorithm, legacy=False)


def _legacy(algorithm: str) -> Handler:
    async def handler(session: Session, argument: str) -> None:
        await _start(session, argument, algorithm, legacy=True)

    return handler


for _verb, _algorithm in ALIASES.items():
    command(_verb, argument=Arg.REQUIRED, permission="read", syntax=f"{_verb} <file>",
            help=f"{_algorithm} checksum of a file (as HASH)")(_legacy(_algorithm))  # fmt: skip


async def _start(session: Session, argument: str, algorithm: str, legacy: bool) -> None:
    path = session.resolve(argument)
    reader = await session.fs.open_read(path)  # 550 here for folders and missing files
    limit = session.config.max_hash_size
    if limit and reader.size > limit:
        await reader.close()
        raise FTPError(Code.FILE_UNAVAILABLE, f"{argument}: larger than the hashing limit ({limit} bytes)")
    session.transfer = asyncio.create_task(_run(session, argument, path, reader, algorithm, legacy))


async def _run(
    session: Session, argument: str, path: PurePosixPath, reader: FileReader, algorithm: str, legacy: bool
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        digest = await file_digest(reader, algorithm)
        if legacy:
            reply = Reply(LEGACY_OK, digest)
        else:
            reply = Reply(Code.FILE_STATUS, format_hash_reply(algorithm, reader.size, digest, argument))
    except asyncio.CancelledError:  # ABOR, or the session ends
        reply = Reply(Code.TRANSFER_ABORTED, "Hash aborted")
    except OSError as error:
        reply = reply_for_os_error(error)
    finally:
        await reader.close()
    user = session.login.user_name
    log.info("%s %s %s %s: %d bytes in %.3fs, %s", session.peer, user, algorithm, path, reader.size,
             loop.time() - started, reply)  # fmt: skip
    try:
        await session.reply(reply.code, reply.text)
    except ConnectionError:
        pass


async def file_digest(reader: FileReader, algorithm: str) -> str:
    hasher = new_hasher(algorithm)
    source = reader.local_file()
    if source is not None:  # a real file: read and hash each block in one job
        raw, position = source
        descriptor = raw.fileno()
        while moved := await _in_thread(_hash_block, descriptor, position, hasher):
            position += moved
    else:
        while chunk := await reader.read_chunk():
            await _in_thread(hasher.update, chunk)
    return hasher.hexdigest()


def _hash_block(descriptor: int, position: int, hasher: Hasher) -> int:
    data = os.pread(descriptor, HASH_BLOCK, position)
    hasher.update(data)
    return len(data)


async def _in_thread(function: Callable[..., T], *arguments: Any) -> T:
    """A worker-thread job that is never abandoned: on cancellation it is waited for (one block
    at most) before the cancellation goes on, so the file is never closed under it."""
    job = asyncio.get_running_loop().run_in_executor(None, function, *arguments)
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        raise


def choose(session: Session, value: str) -> Reply:
    """OPTS HASH [algorithm]: the session's choice, shown or changed."""
    if not value.strip():
        return Reply(Code.OK, session.params.hash_algorithm)
    algorithm = choose_algorithm(value)
    if algorithm is None:
        return Reply(Code.BAD_ARGUMENT, "Unknown algorithm, current selection not changed")
    session.params.hash_algorithm = algorithm
    return Reply(Code.OK, algorithm)
