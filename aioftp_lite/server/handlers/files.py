"""File and folder operations without a data connection: MKD RMD DELE RNFR RNTO SIZE MDTM."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ...errors import FTPError
from ...events import Deleted, DeleteStarting, FolderMade, Renamed
from ...protocol.listing import FileInfo, format_mdtm
from ...protocol.replies import Code
from ...storage.paths import ROOT, quote_path
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session


@command("MKD", "XMKD", argument=Arg.REQUIRED, permission="mkdir", syntax="MKD <folder>",
         help="create a folder")  # fmt: skip
async def mkd(session: Session, argument: str) -> None:
    path = session.resolve_new_name(argument)
    await session.fs.mkdir(path)
    session.context.events.emit(FolderMade(session.peer, session.login.user_name, str(path)))
    await session.reply(Code.PATH_CREATED, f"{quote_path(path)} created")


@command("RMD", "XRMD", argument=Arg.REQUIRED, permission="delete", syntax="RMD <folder>",
         help="remove an empty folder")  # fmt: skip
async def rmd(session: Session, argument: str) -> None:
    path = session.resolve(argument)
    if path == ROOT or path == session.cwd or path in session.cwd.parents:
        raise FTPError(Code.FILE_UNAVAILABLE, "Cannot remove the current folder or one above it")
    await _may_delete(session, path, folder=True)
    await session.fs.rmdir(path)
    session.context.events.emit(Deleted(session.peer, session.login.user_name, str(path), True))
    await session.reply(Code.FILE_ACTION_OK, f"Folder {path} removed")


@command("DELE", argument=Arg.REQUIRED, permission="delete", syntax="DELE <file>", help="delete a file")
async def dele(session: Session, argument: str) -> None:
    path = session.resolve(argument)
    await _may_delete(session, path, folder=False)
    await session.fs.remove(path)
    session.context.events.emit(Deleted(session.peer, session.login.user_name, str(path), False))
    await session.reply(Code.FILE_ACTION_OK, f"File {path} deleted")


async def _may_delete(session: Session, path: PurePosixPath, folder: bool) -> None:
    """A before_delete hook may refuse (hooks.py)."""
    hooks = session.context.hooks
    if hooks is not None and hooks.wants("before_delete"):
        refusal = await hooks.check(DeleteStarting(session.peer, session.login.user_name, str(path), folder))
        if refusal is not None:
            raise FTPError(refusal.code, refusal.text)


@command("RNFR", argument=Arg.REQUIRED, permission="rename", syntax="RNFR <path>",
         help="rename: the old name (then RNTO)")  # fmt: skip
async def rnfr(session: Session, argument: str) -> None:
    session.rename_from = None
    path = session.resolve(argument)
    if path == ROOT:
        raise FTPError(Code.FILE_UNAVAILABLE, "The root folder cannot be renamed")
    await session.fs.stat(path)  # 550 if it does not exist
    session.rename_from = path
    await session.reply(Code.PENDING_FURTHER_INFO, "Ready for the new name (RNTO)")


@command("RNTO", argument=Arg.REQUIRED, permission="rename", syntax="RNTO <path>",
         help="rename: the new name (after RNFR)")  # fmt: skip
async def rnto(session: Session, argument: str) -> None:
    source, session.rename_from = session.rename_from, None
    if source is None:
        raise FTPError(Code.BAD_SEQUENCE, "RNFR required first")
    target = session.resolve_new_name(argument)
    await session.fs.rename(source, target)
    session.context.events.emit(Renamed(session.peer, session.login.user_name, str(source), str(target)))
    await session.reply(Code.FILE_ACTION_OK, f"Renamed {source} to {target}")


@command("SIZE", argument=Arg.REQUIRED, permission="list", syntax="SIZE <file>",
         help="size of a file in bytes", feature="SIZE")  # fmt: skip
async def size(session: Session, argument: str) -> None:
    info = await regular_file(session, argument)
    # The stored size, in TYPE A too (as vsftpd does): counting line endings would
    # mean reading the whole file, and clients such as ftplib ask SIZE in either type.
    await session.reply(Code.FILE_STATUS, str(info.size))


@command("MDTM", argument=Arg.REQUIRED, permission="list", syntax="MDTM <file>",
         help="modification time of a file (UTC)", feature="MDTM")  # fmt: skip
async def mdtm(session: Session, argument: str) -> None:
    info = await regular_file(session, argument)
    await session.reply(Code.FILE_STATUS, format_mdtm(info.mtime))


async def regular_file(session: Session, argument: str) -> FileInfo:
    """What SIZE, MDTM and MFMT act on: a file, not a folder (550 otherwise)."""
    info = await session.fs.stat(session.resolve(argument))
    if info.is_dir:
        raise FTPError(Code.FILE_UNAVAILABLE, f"{argument}: not a regular file")
    return info
