"""LIST, NLST, MLSD over the data connection; MLST over the control connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.listing import FileInfo, format_facts, format_list_line
from ...protocol.replies import Code
from ...storage.local import PARTIAL_SUFFIX
from ...storage.paths import is_hidden
from ..dispatch import Arg, command
from ..transfer import send_lines

if TYPE_CHECKING:
    from ..datachannel import DataConnection
    from ..session import Session


LineMaker = Callable[["Session", list[FileInfo]], list[str]]


def is_listed(name: str, show_hidden: bool) -> bool:
    """Dotfiles only with --show-hidden; uploads in progress never."""
    if name.endswith(PARTIAL_SUFFIX):
        return False
    return show_hidden or not is_hidden(name)


async def visible_entries(session: Session, path: PurePosixPath) -> list[FileInfo]:
    """The entries of a folder (sorted, hidden ones filtered), or the file itself."""
    info = await session.fs.stat(path)
    if not info.is_dir:
        return [info]
    entries = await session.fs.list_dir(path)
    show = session.config.show_hidden
    return sorted((e for e in entries if is_listed(e.name, show)), key=lambda e: e.name)


def split_list_options(argument: str) -> str:
    """`-la /pub` -> `/pub`: clients pass ls options, which we accept and ignore."""
    words = argument.strip()
    while words.startswith("-") and not words.startswith("--"):
        _options, _, words = words.partition(" ")
        words = words.lstrip()
    return words


async def _send_listing(session: Session, argument: str, lines_for: LineMaker, verb: str) -> None:
    path = session.resolve(split_list_options(argument)) if argument.strip() else session.cwd
    entries = await visible_entries(session, path)  # 550 here, before any 150

    async def work(connection: DataConnection) -> int:
        _reader, writer = await connection.streams()
        return await send_lines(lines_for(session, entries), writer)

    async def nothing_to_clean() -> None:
        return None

    session.start_transfer(f"Here comes the listing of {path}", work, nothing_to_clean, f"{verb} {path}")


def _long_lines(session: Session, entries: list[FileInfo]) -> list[str]:
    now = time.time()
    return [format_list_line(e, now) for e in entries]


def _names(session: Session, entries: list[FileInfo]) -> list[str]:
    return [e.name for e in entries]


def _facts(session: Session, entries: list[FileInfo]) -> list[str]:
    assert session.account is not None
    return [f"{format_facts(e, session.account.permissions, session.mlst_facts)} {e.name}" for e in entries]


@command("LIST", argument=Arg.OPTIONAL, permission="list", syntax="LIST [path]",
         help="list a folder in `ls -l` form")  # fmt: skip
async def list_(session: Session, argument: str) -> None:
    await _send_listing(session, argument, _long_lines, "LIST")


@command("NLST", argument=Arg.OPTIONAL, permission="list", syntax="NLST [path]",
         help="list the names in a folder")  # fmt: skip
async def nlst(session: Session, argument: str) -> None:
    await _send_listing(session, argument, _names, "NLST")


@command("MLSD", argument=Arg.OPTIONAL, permission="list", syntax="MLSD [folder]",
         help="list a folder with machine-readable facts (RFC 3659)")  # fmt: skip
async def mlsd(session: Session, argument: str) -> None:
    path = session.resolve(argument) if argument.strip() else session.cwd
    if not (await session.fs.stat(path)).is_dir:
        raise FTPError(Code.FILE_UNAVAILABLE, f"{path}: Not a directory")
    await _send_listing(session, str(path), _facts, "MLSD")


@command("MLST", argument=Arg.OPTIONAL, permission="list", syntax="MLST [path]",
         help="facts about one file or folder (RFC 3659)",
         feature="MLST type*;size*;modify*;perm*;unique*;")  # fmt: skip
async def mlst(session: Session, argument: str) -> None:
    assert session.account is not None
    path = session.resolve(argument) if argument.strip() else session.cwd
    info = await session.fs.stat(path)
    facts = format_facts(info, session.account.permissions, session.mlst_facts)
    await session.reply(Code.FILE_ACTION_OK, f"Listing {path}\n{facts} {path}\nEnd")
