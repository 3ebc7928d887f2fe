"""File transfers over the data connection: RETR STOR STOU APPE, and REST, ABOR."""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ...errors import FTPError
from ...events import UploadStarting
from ...protocol.commands import MAX_OFFSET, parse_offset
from ...protocol.replies import Code
from ...storage.base import WriteMode
from ...storage.paths import unique_name
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session


@command("REST", argument=Arg.REQUIRED, syntax="REST <offset>",
         help="resume the next RETR or STOR at a byte offset", feature="REST STREAM")  # fmt: skip
async def rest(session: Session, argument: str) -> None:
    offset = parse_offset(argument)
    if offset is None:
        raise FTPError(Code.BAD_ARGUMENT, "REST needs a byte offset (a whole number)")
    if offset > MAX_OFFSET:
        raise FTPError(Code.BAD_ARGUMENT, f"REST offset too large (at most {MAX_OFFSET})")
    session.params.restart_offset = offset
    await session.reply(Code.PENDING_FURTHER_INFO, f"Restarting at {offset}, send RETR or STOR")


@command("RETR", argument=Arg.REQUIRED, permission="read", syntax="RETR <file>", help="download a file")
async def retr(session: Session, argument: str) -> None:
    path = session.resolve(argument)
    offset = session.params.take_restart_offset()
    if offset:
        # Checked before opening: a file system refuses to seek that far (EINVAL) on its own.
        _check_offset(offset, (await session.fs.stat(path)).size)
    source = await session.fs.open_read(path, offset)  # 550 here for folders and missing files
    if offset > source.size:  # it shrank meanwhile
        await source.close()
        _check_offset(offset, source.size)
    opening = f"Opening {session.params.mode_name} mode data connection for {path} ({source.size} bytes)"
    session.start_transfer(opening, session.download(source), "RETR", path)


@command("STOR", argument=Arg.REQUIRED, permission="write", syntax="STOR <file>",
         help="upload a file (atomic: replaces the old one only when complete)")  # fmt: skip
async def stor(session: Session, argument: str) -> None:
    await _store(session, session.resolve_new_name(argument), WriteMode.REPLACE, "STOR")


@command("APPE", argument=Arg.REQUIRED, permission="write", syntax="APPE <file>",
         help="upload, appending to the file")  # fmt: skip
async def appe(session: Session, argument: str) -> None:
    await _store(session, session.resolve_new_name(argument), WriteMode.APPEND, "APPE")


@command("STOU", argument=Arg.OPTIONAL, permission="write", syntax="STOU [name]",
         help="upload under a new unique name")  # fmt: skip
async def stou(session: Session, argument: str) -> None:
    base = session.resolve_new_name(argument.strip() or "upload")
    if not base.name:  # "/", ".." up to the root: a folder, not a name to start from
        base = base / "upload"
    # 128 random bits: no two uploads, overlapping or not, in this process or another
    # (--workers), ever get one name, and nothing is probed (one operation, however many
    # files there are). Exclusive creation is not needed for that, and uploads stay atomic.
    path = unique_name(base, secrets.token_hex(16))
    await _store(session, path, WriteMode.REPLACE, "STOU", opening=f"FILE: {path.name}")  # RFC 1123 4.1.2.9


async def _store(
    session: Session, path: PurePosixPath, mode: WriteMode, verb: str, opening: str = ""
) -> None:
    offset = session.params.take_restart_offset()
    if offset and mode is WriteMode.REPLACE:
        mode = WriteMode.RESUME
        # Past the end is refused rather than clamped (pure-ftpd) or left as a hole (vsftpd):
        # the client's bytes would land elsewhere than it believes, or make a sparse monster.
        _check_offset(offset, (await session.fs.stat(path)).size)
    hooks = session.context.hooks
    if hooks is not None and hooks.wants("before_upload"):
        refusal = await hooks.check(UploadStarting(session.peer, session.login.user_name, str(path), verb))
        if refusal is not None:
            raise FTPError(refusal.code, refusal.text)
    target = await session.fs.open_write(path, mode, offset)
    opening = opening or f"Opening {session.params.mode_name} mode data connection for {path}"
    session.start_transfer(opening, session.upload(target), verb, path)


def _check_offset(offset: int, size: int) -> None:
    if offset > size:
        raise FTPError(Code.INVALID_RESTART, f"Restart offset {offset} is past the end ({size} bytes)")


@command("ABOR", during_transfer=True, help="abort the transfer in progress")
async def abor(session: Session, _argument: str) -> None:
    aborted = await session.abort_transfer()  # the transfer itself answers 426
    session.data.close()
    if aborted:
        await session.reply(Code.CLOSING_DATA, "ABOR command successful")
    else:
        await session.reply(Code.DATA_OPEN, "No transfer to abort")
