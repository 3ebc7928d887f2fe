"""LIST, NLST, MLSD over the data connection; MLST over the control connection.

LIST and NLST take wildcards in the last path component (`NLST *.log`, `LIST logs/n*.txt`),
as vsftpd does, so that `mget` and `mdelete` in the classic clients work. A name that
exists as typed wins over the pattern. A pattern listing is filtered while the folder is
read batch by batch and each batch is sent before the next is read, so a pattern over a
huge folder streams and holds one batch in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ...errors import FTPError, reply_for_os_error
from ...protocol.listing import FileInfo, format_facts, format_list_line
from ...protocol.replies import Code
from ...protocol.wildcards import compile_pattern, has_wildcard, split_pattern
from ...storage.paths import is_hidden
from ..dispatch import Arg, command
from ..transfers import listing, streamed_listing

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")

LineMaker = Callable[["Session", list[FileInfo]], list[str]]


def is_listed(name: str, show_hidden: bool) -> bool:
    """Dotfiles only with --show-hidden (uploads in progress: the backend never lists them)."""
    return show_hidden or not is_hidden(name)


async def visible_entries(
    session: Session, path: PurePosixPath, info: FileInfo | None = None
) -> list[FileInfo]:
    """The entries of a folder (sorted, hidden ones filtered), or the file itself (`info`:
    its stat, if the caller has it)."""
    info = info or await session.fs.stat(path)
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
    """LIST/NLST/MLSD; a refusal (550 before any 150) gets a log line, as a failed RETR does."""
    try:
        await _start_listing(session, argument, lines_for, verb)
    except (FTPError, OSError) as error:
        reply = error.reply if isinstance(error, FTPError) else reply_for_os_error(error)
        log.info("%s %s %s %s: %s", session.peer, session.login.user_name, verb, argument.strip(), reply)
        raise


async def _start_listing(session: Session, argument: str, lines_for: LineMaker, verb: str) -> None:
    typed = split_list_options(argument) if argument.strip() else ""
    path = session.resolve(typed) if typed else session.cwd
    if verb != "MLSD" and has_wildcard(path.name) and not await session.fs.exists(path):
        await _start_pattern_listing(session, typed, path, lines_for, verb)
        return
    info = await session.fs.stat(path)  # 550 here, before any 150
    if info.is_dir and session.fs.lists_in_order:
        await _start_streamed_listing(session, path, lines_for, verb)
        return
    entries = await visible_entries(session, path, info)
    transfer = listing(lambda: lines_for(session, entries))
    session.start_transfer(f"Here comes the listing of {path}", transfer, verb, path)


async def _start_streamed_listing(
    session: Session, folder: PurePosixPath, lines_for: LineMaker, verb: str
) -> None:
    """A folder of a backend that lists in order (object storage), sent batch by batch:
    a folder of any size lists with one batch in memory."""
    show = session.config.show_hidden

    async def batches() -> AsyncIterator[list[str]]:
        async for batch in session.fs.scan_dir(folder):
            yield lines_for(session, [e for e in batch if is_listed(e.name, show)])

    session.start_transfer(f"Here comes the listing of {folder}", streamed_listing(batches), verb, folder)


async def _start_pattern_listing(
    session: Session, typed: str, path: PurePosixPath, lines_for: LineMaker, verb: str
) -> None:
    """The entries of the pattern's folder whose names match; none is an empty listing (vsftpd)."""
    folder = path.parent
    if not (await session.fs.stat(folder)).is_dir:  # 550 here, before any 150
        raise FTPError(Code.FILE_UNAVAILABLE, f"{folder}: Not a directory")
    matches = compile_pattern(path.name)
    show = session.config.show_hidden
    # NLST names carry the folder as the client typed it, so that `mget logs/*.txt`
    # can fetch each name it gets back (vsftpd does the same).
    prefix = split_pattern(typed)[0] if verb == "NLST" else ""

    async def batches() -> AsyncIterator[list[str]]:
        async for batch in session.fs.scan_dir(folder):
            chosen = sorted(
                (e for e in batch if is_listed(e.name, show) and matches(e.name)), key=lambda e: e.name
            )
            lines = lines_for(session, chosen)
            yield [prefix + line for line in lines] if prefix else lines

    session.start_transfer(f"Here comes the listing of {path}", streamed_listing(batches), verb, path)


def _long_lines(session: Session, entries: list[FileInfo]) -> list[str]:
    now = time.time()
    return [format_list_line(e, now) for e in entries]


def _names(session: Session, entries: list[FileInfo]) -> list[str]:
    return [e.name for e in entries]


def _facts(session: Session, entries: list[FileInfo]) -> list[str]:
    assert session.login.account is not None
    return [
        f"{format_facts(e, session.login.account.permissions, session.params.mlst_facts)} {e.name}"
        for e in entries
    ]


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
    assert session.login.account is not None
    path = session.resolve(argument) if argument.strip() else session.cwd
    info = await session.fs.stat(path)
    facts = format_facts(info, session.login.account.permissions, session.params.mlst_facts)
    await session.reply(Code.FILE_ACTION_OK, f"Listing {path}\n{facts} {path}\nEnd")
