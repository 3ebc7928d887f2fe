"""Explicit FTPS (RFC 4217): AUTH TLS, PBSZ, PROT."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...config import ServerConfig
from ...errors import FTPError
from ...protocol.replies import Code
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")


def tls_offered(config: ServerConfig) -> bool:
    return config.tls_cert is not None


@command("AUTH", argument=Arg.REQUIRED, login=False, syntax="AUTH TLS",
         help="switch the control connection to TLS", feature="AUTH TLS", offered=tls_offered)  # fmt: skip
async def auth(session: Session, argument: str) -> None:
    if session.context.tls is None:
        raise FTPError(Code.NOT_IMPLEMENTED, "TLS is not configured on this server")
    mechanism = argument.strip().upper()
    if mechanism not in ("TLS", "TLS-C", "SSL"):
        raise FTPError(Code.PARAMETER_NOT_IMPLEMENTED, "Only AUTH TLS is supported")
    if mechanism == "SSL":  # the pre-RFC 4217 name some old clients still send
        log.info("%s AUTH SSL: answered as AUTH TLS", session.peer)
    if session.security.control_tls:
        raise FTPError(Code.BAD_SEQUENCE, "Already using TLS")
    try:
        # With session reuse required, a context of this connection's own (see tls.py). Built
        # here, as the handshake's own crypto runs here too: both about a millisecond.
        context = session.context.tls
        if session.config.tls_session_reuse:
            context = context.for_connection()
    except OSError as error:  # ssl.SSLError too: the certificate files changed since the start
        log.error("TLS context for %s: %s", session.peer, error)
        raise FTPError(
            Code.SECURITY_RESOURCE_UNAVAILABLE, "TLS is unavailable: server certificate unreadable"
        ) from None
    await session.wait_transfer()
    await session.reply(Code.AUTH_OK, "AUTH TLS successful")
    try:
        await session.start_tls(context)
    except (OSError, TimeoutError) as error:
        log.warning("%s TLS handshake failed: %s", session.peer, error)
        session.quit_requested = True  # the connection is unusable now
        return
    # RFC 4217 4: a new security context means a new login.
    session.login.reset()


@command("CCC", login=False, help="clear the control connection (refused: it stays encrypted)")
async def ccc(session: Session, _argument: str) -> None:
    # RFC 4217 12.3: a cleared control connection would expose later commands to tampering.
    raise FTPError(Code.DATA_PROTECTION_REFUSED, "CCC refused: the control connection stays encrypted")


@command("PBSZ", argument=Arg.REQUIRED, login=False, syntax="PBSZ 0",
         help="protection buffer size (0 for TLS)", feature="PBSZ", offered=tls_offered)  # fmt: skip
async def pbsz(session: Session, argument: str) -> None:
    if not session.security.control_tls:
        raise FTPError(Code.BAD_SEQUENCE, "Send AUTH TLS first")
    if not argument.strip().isdigit():
        raise FTPError(Code.BAD_ARGUMENT, "PBSZ needs a number")
    session.security.protection_buffer_set = True
    await session.reply(Code.OK, "PBSZ=0")


@command("PROT", argument=Arg.REQUIRED, login=False, syntax="PROT P|C",
         help="protect data connections (P) or not (C)", feature="PROT", offered=tls_offered)  # fmt: skip
async def prot(session: Session, argument: str) -> None:
    level = argument.strip().upper()
    if not session.security.control_tls or not session.security.protection_buffer_set:
        raise FTPError(Code.BAD_SEQUENCE, "Send AUTH TLS and PBSZ first")
    if level == "P":
        session.security.protect_data = True
        await session.reply(Code.OK, "Data connections will be protected")
    elif level == "C":
        if session.config.require_tls:
            raise FTPError(Code.DATA_PROTECTION_REFUSED, "This server requires protected data connections")
        session.security.protect_data = False
        await session.reply(Code.OK, "Data connections will not be protected")
    elif level in ("S", "E"):
        raise FTPError(Code.PROTECTION_LEVEL_NOT_SUPPORTED, f"PROT {level} not supported, use P or C")
    else:
        raise FTPError(Code.BAD_ARGUMENT, f"Unknown protection level {argument[:16]}")
