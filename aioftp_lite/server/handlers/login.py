"""USER, PASS, QUIT: the authenticator decides, the handlers only ask."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ...errors import FTPError
from ...protocol.replies import Code
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")


@command("USER", argument=Arg.REQUIRED, login=False, syntax="USER <name>", help="begin a login")
async def user(session: Session, name: str) -> None:
    session.account = session.storage = None
    if session.config.require_tls and not session.control_tls:
        raise FTPError(Code.NOT_LOGGED_IN, "This server requires TLS: send AUTH TLS first")
    session.pending_user = name
    if session.context.authenticator.is_anonymous_name(name):
        await session.reply(Code.NEED_PASSWORD, "Anonymous login ok, send your e-mail address as password")
    else:
        # Same answer whether or not the user exists: names are not to be probed.
        await session.reply(Code.NEED_PASSWORD, f"Password required for {name}")


@command("PASS", argument=Arg.OPTIONAL, login=False, syntax="PASS <password>", help="finish a login")
async def password(session: Session, secret: str) -> None:
    if session.account is not None:
        await session.reply(Code.LOGGED_IN, "Already logged in")
        return
    if session.pending_user is None:
        await session.reply(Code.BAD_SEQUENCE, "Login with USER first")
        return
    name, session.pending_user = session.pending_user, None
    if session.context.defender.is_banned(session.peer_host):
        # Connections opened before the ban must not go on guessing (or get in).
        session.quit_requested = True
        await session.reply(Code.SERVICE_UNAVAILABLE, "Too many failed logins from your address, try later")
        return
    account = await session.context.authenticator.authenticate(name, secret)
    if account is None:
        log.warning("%s failed login as %r", session.peer, name)
        # The delay slows password guessing; the defender bans an address that keeps trying.
        await asyncio.sleep(session.config.login_failure_delay)
        if session.context.defender.record_failure(session.peer_host):
            log.warning("%s banned after repeated failed logins", session.peer_host)
            session.quit_requested = True  # end the session after this reply
            await session.reply(Code.SERVICE_UNAVAILABLE, "Too many failed logins, closing connection")
            return
        await session.reply(Code.NOT_LOGGED_IN, "Login incorrect")
        return
    session.context.defender.record_success(session.peer_host)
    session.login(account)
    log.info("%s logged in as %s", session.peer, account.name)
    await session.reply(Code.LOGGED_IN, f"User {account.name} logged in")


@command("QUIT", login=False, help="end the session")
async def quit_(session: Session, _argument: str) -> None:
    session.quit_requested = True
    await session.reply(Code.CLOSING_CONTROL, "Goodbye")
