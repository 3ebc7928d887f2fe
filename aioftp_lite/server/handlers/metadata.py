"""Free space and the metadata changes of mirroring clients: AVBL, MFF, and SITE UTIME
(which site.py routes here). lftp's `mirror -R` sends MFF or SITE UTIME where the server
offers them, to keep each file's modification time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.listing import format_mdtm
from ...protocol.metadata import (
    MFF_FACTS,
    MFF_FEATURE,
    MetadataSyntaxError,
    UnsupportedFact,
    parse_mff,
    parse_mode,
    parse_site_utime,
    parse_time,
)
from ...protocol.replies import Code
from ..dispatch import Arg, command, require_access

if TYPE_CHECKING:
    from ..session import Session


@command("AVBL", argument=Arg.OPTIONAL, permission="list", syntax="AVBL [folder]",
         help="bytes free for uploads in a folder", feature="AVBL")  # fmt: skip
async def avbl(session: Session, argument: str) -> None:
    path = session.resolve(argument) if argument.strip() else session.cwd
    if not (await session.fs.stat(path)).is_dir:
        raise FTPError(Code.FILE_UNAVAILABLE, f"{path}: Not a directory")
    free = 0 if session.config.read_only else await session.fs.free_space(path)
    await session.reply(Code.FILE_STATUS, str(free))


@command("MFF", argument=Arg.REQUIRED, permission="write", syntax="MFF <fact>=<value>;... <path>",
         help="set a file's facts: modify, UNIX.mode", feature=MFF_FEATURE)  # fmt: skip
async def mff(session: Session, argument: str) -> None:
    try:
        facts, path_text = parse_mff(argument.strip())
        mtime = parse_time(facts["modify"]) if "modify" in facts else None
        mode = parse_mode(facts["unix.mode"]) if "unix.mode" in facts else None
    except UnsupportedFact as fact:
        raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, f"Fact {str(fact)[:32]} cannot be changed") from None
    except MetadataSyntaxError as error:
        raise FTPError(Code.BAD_ARGUMENT, f"Syntax error: {error}") from None
    path = session.resolve(path_text)
    await session.fs.stat(path)  # 550 before any change
    if mtime is not None:
        await session.fs.set_mtime(path, mtime)
    if mode is not None:
        await session.fs.chmod(path, mode)
    shown = {"modify": format_mdtm(mtime) if mtime is not None else "", "unix.mode": f"{mode or 0:04o}"}
    text = "".join(f"{MFF_FACTS[name]}={shown[name]};" for name in facts)
    await session.reply(Code.FILE_STATUS, f"{text} {path}")


async def site_utime(session: Session, argument: str) -> None:
    require_access(session, "write")
    try:
        path_text, mtime = parse_site_utime(argument.strip())
    except MetadataSyntaxError as error:
        raise FTPError(Code.BAD_ARGUMENT, f"Syntax error: {error}") from None
    path = session.resolve(path_text)
    await session.fs.set_mtime(path, mtime)
    await session.reply(Code.OK, f"SITE UTIME {format_mdtm(mtime)} {path} done")
