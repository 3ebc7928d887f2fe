"""PWD, CWD, CDUP (and the X-variants of RFC 775 that clients still send)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.replies import Code
from ...storage.paths import quote_path
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session


@command("PWD", "XPWD", help="print the current folder")
async def pwd(session: Session, _argument: str) -> None:
    await session.reply(Code.PATH_CREATED, f"{quote_path(session.cwd)} is the current directory")


@command("CWD", "XCWD", argument=Arg.REQUIRED, syntax="CWD <folder>", help="change folder")
async def cwd(session: Session, argument: str) -> None:
    await change_folder(session, argument)


@command("CDUP", "XCUP", help="go to the parent folder")
async def cdup(session: Session, _argument: str) -> None:
    await change_folder(session, "..")


async def change_folder(session: Session, argument: str) -> None:
    path = session.resolve(argument)
    if not (await session.fs.stat(path)).is_dir:
        raise FTPError(Code.FILE_UNAVAILABLE, f"{argument}: Not a directory")
    session.cwd = path
    await session.reply(Code.FILE_ACTION_OK, f"Directory changed to {path}")
