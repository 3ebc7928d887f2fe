"""USER, PASS, QUIT: the authenticator decides, the handlers only ask."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ...cluster.state import user_key
from ...errors import FTPError
from ...events import Banned, LoginFailed, LoginSucceeded
from ...passwords import ServerBusy
from ...protocol.replies import Code
from ..dispatch import Arg, command

if TYPE_CHECKING:
    from ...defender import LoginDefender
    from ..session import Session

log = logging.getLogger("aioftp_lite.session")


@command("USER", argument=Arg.REQUIRED, login=False, syntax="USER <name>", help="begin a login")
async def user(session: Session, name: str) -> None:
    session.login.reset()
    await release_user(session)
    if session.config.require_tls and not session.security.control_tls:
        raise FTPError(Code.NOT_LOGGED_IN, "This server requires TLS: send AUTH TLS first")
    authenticator = session.context.authenticator
    if authenticator.refuses_anonymous(name):
        raise FTPError(Code.NOT_LOGGED_IN, "Anonymous login is disabled")
    session.login.expect_password(name)
    if authenticator.is_anonymous_name(name):
        await session.reply(Code.NEED_PASSWORD, "Anonymous login ok, send your e-mail address as password")
    else:
        # Same answer whether or not the user exists: names are not to be probed.
        await session.reply(Code.NEED_PASSWORD, f"Password required for {name}")


@command("PASS", argument=Arg.OPTIONAL, login=False, syntax="PASS <password>", help="finish a login")
async def password(session: Session, secret: str) -> None:
    if session.login.account is not None:
        await session.reply(Code.LOGGED_IN, "Already logged in")
        return
    name = session.login.take_pending_user()
    if name is None:
        await session.reply(Code.BAD_SEQUENCE, "Login with USER first")
        return
    defender, state = session.context.defender, session.context.state
    if await state.is_banned(session.peer_host):
        # Connections opened before the ban must not go on guessing (or get in).
        session.quit_requested = True
        await session.reply(Code.SERVICE_UNAVAILABLE, "Too many failed logins from your address, try later")
        return
    try:
        account = await session.context.authenticator.authenticate(
            name, secret, session.peer_host, defender.is_safelisted(session.peer_host)
        )
    except ServerBusy:
        log.warning("%s login as %r refused: password checks are over their CPU budget", session.peer, name)
        session.quit_requested = True
        await session.reply(Code.SERVICE_UNAVAILABLE, "Server busy, try again later")
        return
    events = session.context.events
    if account is None:
        log.warning("%s failed login as %r", session.peer, name)
        if events.sinks:
            events.emit(
                LoginFailed(session.peer, name, session.context.authenticator.is_anonymous_name(name))
            )
        # The delay slows password guessing; the defender bans an address that keeps trying,
        # from its next connection on. This attempt is answered like every other failure.
        await asyncio.sleep(session.config.login_failure_delay)
        ban = await state.record_failure(session.peer_host)
        if ban is not None:
            log.warning("%s banned for %gs after repeated failed logins (ban %d)",
                        ban.address, ban.seconds, ban.count)  # fmt: skip
            asyncio.get_running_loop().call_later(ban.seconds, _log_unban, defender, ban.address)
            events.emit(Banned(ban.address, ban.seconds, ban.count))
        await session.reply(Code.NOT_LOGGED_IN, "Login incorrect")
        return
    await state.record_success(session.peer_host)
    if not await state.admit(user_key(account.name), session.config.max_connections_per_user):
        log.warning("%s login as %s refused: too many sessions of this user", session.peer, account.name)
        await session.reply(Code.NOT_LOGGED_IN, f"Too many connections for user {account.name}, try later")
        return
    session.login.counted_user = account.name
    session.log_in(account)
    log.info("%s logged in as %s", session.peer, account.name)
    if events.sinks:
        events.emit(LoginSucceeded(session.peer, account.name, account.anonymous))
    await session.reply(Code.LOGGED_IN, f"User {account.name} logged in")


async def release_user(session: Session) -> None:
    """The session no longer counts for its account (a new USER, or its end)."""
    name, session.login.counted_user = session.login.counted_user, None
    if name is not None:
        await session.context.state.release(user_key(name))


def _log_unban(defender: LoginDefender, address: str) -> None:
    if not defender.is_banned(address):  # not banned again meanwhile
        log.info("%s unbanned: its ban expired", address)


@command("QUIT", login=False, help="end the session")
async def quit_(session: Session, _argument: str) -> None:
    session.quit_requested = True
    await session.reply(Code.CLOSING_CONTROL, "Goodbye")
