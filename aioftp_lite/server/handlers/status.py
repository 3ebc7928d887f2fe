"""Commands about the session itself: NOOP SYST FEAT OPTS HELP STAT TYPE MODE STRU ALLO."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.hashes import feature_line as hash_feature
from ...protocol.listing import ALL_FACTS, format_list_line
from ...protocol.replies import Code
from ..dispatch import Arg, command, feature_lines, help_text, require_access
from .checksums import choose as choose_hash
from .listing import visible_entries

if TYPE_CHECKING:
    from ..session import Session


@command("NOOP", login=False, help="do nothing, keep the connection alive")
async def noop(session: Session, _argument: str) -> None:
    await session.reply(Code.OK, "NOOP ok")


@command("SYST", login=False, help="show the system type")
async def syst(session: Session, _argument: str) -> None:
    await session.reply(Code.SYSTEM_TYPE, "UNIX Type: L8")


@command("FEAT", login=False, help="list the protocol extensions (RFC 2389)")
async def feat(session: Session, _argument: str) -> None:
    # The HASH line stars the session's algorithm (OPTS HASH may have changed it).
    lines = [hash_feature(session.params.hash_algorithm) if line.startswith("HASH ") else line
             for line in feature_lines(session.config, session.context.storage_type)]  # fmt: skip
    await session.reply(Code.SYSTEM_STATUS, "\n".join(["Features:", *lines, "End"]))


@command("OPTS", argument=Arg.REQUIRED, login=False, syntax="OPTS <command> [options]",
         help="set options: UTF8 ON, MLST facts, HASH algorithm", feature="UTF8")  # fmt: skip
async def opts(session: Session, argument: str) -> None:
    name, _, value = argument.strip().partition(" ")
    name = name.upper()
    if name == "UTF8":
        if value.strip().upper() not in ("ON", ""):
            raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, "Only UTF8 ON is supported")
        await session.reply(Code.OK, "Always in UTF8 mode")
    elif name == "MLST":
        chosen = [f for f in value.strip().lower().split(";") if f in ALL_FACTS]
        session.params.mlst_facts = tuple(chosen)
        await session.reply(Code.OK, "MLST OPTS " + "".join(f"{f};" for f in chosen))
    elif name == "HASH":
        reply = choose_hash(session, value)
        await session.reply(reply.code, reply.text)
    else:
        raise FTPError(Code.BAD_ARGUMENT, f"Option {name[:16]} not understood")


@command("HELP", argument=Arg.OPTIONAL, login=False, syntax="HELP [command]",
         help="list the commands, or explain one")  # fmt: skip
async def help_(session: Session, argument: str) -> None:
    reply = help_text(argument.strip() or None)
    await session.reply(reply.code, reply.text)


@command("STAT", argument=Arg.OPTIONAL, login=False, syntax="STAT [path]",
         help="server status, or a listing over the control connection", during_transfer=True)  # fmt: skip
async def stat(session: Session, argument: str) -> None:
    if argument.strip():
        await stat_path(session, argument.strip())
        return
    busy = session.transfer is not None and not session.transfer.done()
    lines = [
        "aioftp_lite status:",
        f"Connected from {session.peer}",
        f"Logged in as {session.login.account.name}" if session.login.account else "Not logged in",
        f"TYPE: {session.params.mode_name}, STRUcture: File, MODE: Stream",
        "Data transfer in progress" if busy else "No data transfer in progress",
        "End of status",
    ]
    await session.reply(Code.SYSTEM_STATUS, "\n".join(lines))


async def stat_path(session: Session, argument: str) -> None:
    require_access(session, "list")
    path = session.resolve(argument)
    lines = [format_list_line(info) for info in await visible_entries(session, path)]
    await session.reply(Code.FILE_STATUS, "\n".join([f"Status of {path}:", *lines, "End of status"]))


@command("TYPE", argument=Arg.REQUIRED, syntax="TYPE A|I", help="ASCII (A) or binary (I) transfers")
async def type_(session: Session, argument: str) -> None:
    words = argument.upper().split()
    if words in (["A"], ["A", "N"]):
        session.params.ascii_mode = True
        await session.reply(Code.OK, "Type set to A")
    elif words in (["I"], ["L", "8"]):
        session.params.ascii_mode = False
        await session.reply(Code.OK, "Type set to I")
    elif words and words[0] in ("E", "L", "A"):
        raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, f"Type {argument} not supported")
    else:
        raise FTPError(Code.BAD_ARGUMENT, f"Unknown type {argument[:16]}")


@command("MODE", argument=Arg.REQUIRED, syntax="MODE S", help="transfer mode (only Stream)")
async def mode(session: Session, argument: str) -> None:
    await _only(session, argument, "S", "BC", "Mode")


@command("STRU", argument=Arg.REQUIRED, syntax="STRU F", help="file structure (only File)")
async def stru(session: Session, argument: str) -> None:
    await _only(session, argument, "F", "RP", "Structure")


async def _only(session: Session, argument: str, supported: str, known: str, what: str) -> None:
    value = argument.strip().upper()
    if value == supported:
        await session.reply(Code.OK, f"{what} set to {supported}")
    elif len(value) == 1 and value in known:
        raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, f"{what} {value} not supported")
    else:
        raise FTPError(Code.BAD_ARGUMENT, f"Unknown {what.lower()} {argument[:16]}")


@command("ALLO", argument=Arg.OPTIONAL, syntax="ALLO <bytes>", help="reserve space (not needed)")
async def allo(session: Session, _argument: str) -> None:
    await session.reply(Code.NOT_NEEDED, "No storage allocation necessary")
