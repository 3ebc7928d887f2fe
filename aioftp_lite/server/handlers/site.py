"""SITE subcommands and MFMT: the metadata changes that mirroring clients send.

lftp's `mirror -R` sends SITE CHMOD and MFMT after each upload to keep permission
bits and times; vsftpd and proftpd answer them, so we do too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.listing import format_mdtm, parse_mdtm
from ...protocol.replies import Code
from ..dispatch import Arg, command, require_access
from .files import regular_file
from .metadata import site_utime

if TYPE_CHECKING:
    from ..session import Session

SITE_HELP = "SITE commands: CHMOD <mode> <path>, UTIME <path> <atime> <mtime> <ctime> UTC, HELP"


@command("SITE", argument=Arg.REQUIRED, syntax="SITE CHMOD <mode> <path> | SITE UTIME ... | SITE HELP",
         help="server-specific commands: CHMOD, UTIME, HELP")  # fmt: skip
async def site(session: Session, argument: str) -> None:
    name, _, rest = argument.strip().partition(" ")
    name = name.upper()
    if name == "HELP":
        await session.reply(Code.HELP, SITE_HELP)
    elif name == "CHMOD":
        await _chmod(session, rest)
    elif name == "UTIME":
        await site_utime(session, rest)
    else:
        raise FTPError(Code.NOT_IMPLEMENTED, f"SITE {name[:16]} not implemented")


async def _chmod(session: Session, argument: str) -> None:
    require_access(session, "write")
    mode_text, _, path_text = argument.strip().partition(" ")
    if not path_text or not mode_text or any(c not in "01234567" for c in mode_text) or len(mode_text) > 4:
        raise FTPError(Code.BAD_ARGUMENT, "Syntax: SITE CHMOD <octal mode> <path>")
    path = session.resolve(path_text)
    await session.fs.chmod(path, int(mode_text, 8))
    await session.reply(Code.OK, f"SITE CHMOD {mode_text} {path} done")


@command("MFMT", argument=Arg.REQUIRED, permission="write", syntax="MFMT <YYYYMMDDHHMMSS> <path>",
         help="set a file's modification time (UTC)", feature="MFMT", capability="can_set_mtime")  # fmt: skip
async def mfmt(session: Session, argument: str) -> None:
    time_text, _, path_text = argument.strip().partition(" ")
    try:
        mtime = parse_mdtm(time_text)
    except ValueError:
        raise FTPError(Code.BAD_ARGUMENT, "Syntax: MFMT <YYYYMMDDHHMMSS> <path>") from None
    if not path_text:
        raise FTPError(Code.BAD_ARGUMENT, "Syntax: MFMT <YYYYMMDDHHMMSS> <path>")
    await regular_file(session, path_text)
    path = session.resolve(path_text)
    await session.fs.set_mtime(path, mtime)
    await session.reply(Code.FILE_STATUS, f"Modify={format_mdtm(mtime)}; {path}")
