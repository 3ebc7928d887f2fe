"""Setting up the data connection: PASV, EPSV (passive), PORT, EPRT (active)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.addresses import (
    Address,
    AddressError,
    UnsupportedProtocol,
    format_epsv_reply_text,
    format_pasv_reply_text,
    parse_eprt_argument,
    parse_port_argument,
)
from ...protocol.replies import Code
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session

# Active connections to privileged ports would let a client aim us at system services.
LOWEST_ACTIVE_PORT = 1024


def _refuse_after_epsv_all(session: Session, verb: str) -> None:
    if session.params.epsv_all:
        raise FTPError(Code.BAD_SEQUENCE, f"{verb} not allowed after EPSV ALL")


@command("PASV", help="passive mode: the server listens, the client connects (IPv4)")
async def pasv(session: Session, _argument: str) -> None:
    _refuse_after_epsv_all(session, "PASV")
    if ":" in session.local_host:
        raise FTPError(Code.CANT_OPEN_DATA, "PASV is for IPv4, use EPSV on IPv6 connections")
    port = session.data.listen(session.context.passive_ports, session.local_host)
    shown_host = session.config.masquerade_address or session.local_host
    await session.reply(Code.PASSIVE, format_pasv_reply_text(shown_host, port))


@command("EPSV", argument=Arg.OPTIONAL, syntax="EPSV [1|2|ALL]",
         help="extended passive mode (RFC 2428), IPv4 and IPv6", feature="EPSV")  # fmt: skip
async def epsv(session: Session, argument: str) -> None:
    requested = argument.strip().upper()
    if requested == "ALL":
        session.params.epsv_all = True
        await session.reply(Code.OK, "EPSV ALL ok")
        return
    ours = "2" if ":" in session.local_host else "1"
    if requested and requested != ours:
        raise FTPError(Code.NETWORK_PROTOCOL_NOT_SUPPORTED, f"Network protocol not supported, use ({ours})")
    port = session.data.listen(session.context.passive_ports, session.local_host)
    await session.reply(Code.EXTENDED_PASSIVE, format_epsv_reply_text(port))


@command("PORT", argument=Arg.REQUIRED, syntax="PORT h1,h2,h3,h4,p1,p2",
         help="active mode: the server connects to the client (IPv4)")  # fmt: skip
async def port(session: Session, argument: str) -> None:
    _refuse_after_epsv_all(session, "PORT")
    try:
        address = parse_port_argument(argument)
    except AddressError as error:
        raise FTPError(Code.BAD_ARGUMENT, f"Bad PORT argument: {error}") from None
    await _set_active(session, address, "PORT")


@command("EPRT", argument=Arg.REQUIRED, syntax="EPRT |proto|address|port|",
         help="extended active mode (RFC 2428), IPv4 and IPv6", feature="EPRT")  # fmt: skip
async def eprt(session: Session, argument: str) -> None:
    _refuse_after_epsv_all(session, "EPRT")
    try:
        address = parse_eprt_argument(argument)
    except UnsupportedProtocol:
        raise FTPError(
            Code.NETWORK_PROTOCOL_NOT_SUPPORTED, "Network protocol not supported, use (1,2)"
        ) from None
    except AddressError as error:
        raise FTPError(Code.BAD_ARGUMENT, f"Bad EPRT argument: {error}") from None
    await _set_active(session, address, "EPRT")


async def _set_active(session: Session, address: Address, verb: str) -> None:
    host, port_number = address
    if host != session.peer_host:
        # FTP bounce (RFC 2577): never connect to a third host on a client's behalf.
        raise FTPError(Code.BAD_ARGUMENT, f"{verb} to an address other than yours is refused")
    if port_number < LOWEST_ACTIVE_PORT:
        raise FTPError(Code.BAD_ARGUMENT, f"{verb} to a privileged port is refused")
    session.data.target(address)
    await session.reply(Code.OK, f"{verb} command successful")
