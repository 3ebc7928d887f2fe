"""What clients send around the login: CLNT (who they are), HOST (RFC 7151), LANG (RFC 2640)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.metadata import MetadataSyntaxError, normalize_host_name
from ...protocol.replies import Code
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")

LANGUAGE = "EN"  # replies are in English only


@command("CLNT", argument=Arg.REQUIRED, login=False, syntax="CLNT <client name>",
         help="tell the server which client this is (logged)", feature="CLNT")  # fmt: skip
async def clnt(session: Session, argument: str) -> None:
    log.info("%s client: %s", session.peer, argument.strip()[:100])
    await session.reply(Code.OK, "Noted")


@command("HOST", argument=Arg.REQUIRED, login=False, syntax="HOST <name>|[address]",
         help="choose the virtual host, before USER (RFC 7151)", feature="HOST")  # fmt: skip
async def host(session: Session, argument: str) -> None:
    if session.login.begun:
        raise FTPError(Code.BAD_SEQUENCE, "HOST must come before USER")
    try:
        name = normalize_host_name(argument)
    except MetadataSyntaxError as error:
        raise FTPError(Code.BAD_ARGUMENT, f"Syntax error: {error}") from None
    if not _known(session, name):
        log.info("%s HOST %s: unknown host", session.peer, name)
        raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, f"Unknown host {name[:64]}")
    session.login.virtual_host = name
    log.info("%s HOST %s", session.peer, name)
    await session.reply(Code.SERVICE_READY, f"Host {name} accepted")


def _known(session: Session, name: str) -> bool:
    """With no `hosts` configured, one site answers to every name; else those names and
    our own address (a client that connected by address may send it as the host)."""
    hosts = session.config.hosts
    if not hosts:
        return True
    return name == session.local_host or any(name == known.rstrip(".").lower() for known in hosts)


@command("LANG", argument=Arg.OPTIONAL, login=False, syntax="LANG [EN]",
         help="the language of the replies (only EN)", feature=f"LANG {LANGUAGE}*")  # fmt: skip
async def lang(session: Session, argument: str) -> None:
    # RFC 2640 4.1: a tag such as EN-US asks for a variant of EN; we have only the one.
    tag = argument.strip().upper()
    if tag and tag.split("-")[0] != LANGUAGE:
        raise FTPError(
            Code.PARAMETER_NOT_IMPLEMENTED, f"Language {argument.strip()[:16]} not supported, only {LANGUAGE}"
        )
    await session.reply(Code.OK, f"Language set to {LANGUAGE}")
