"""The command table and the one dispatcher that checks every command the same way.

Each command is declared once, next to its handler, with `@command(...)`: whether it
needs a login, takes an argument, which permission it uses, its help text and its
FEAT line. The dispatcher applies the checks in a fixed order (unknown 500/502,
bad argument 501, not logged in 530, no permission 550) and then calls the handler;
HELP and FEAT are generated from the same table.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import ServerConfig
from ..errors import FTPError, reply_for_os_error
from ..protocol.commands import Command
from ..protocol.replies import Code, Reply
from .state import LoginState

log = logging.getLogger("aioftp_lite.session")

# A handler gets the session (session.py's Session) and the command's argument.
Handler = Callable[[Any, str], Awaitable[None]]


class Dispatched(Protocol):
    """What the dispatcher itself needs of a session (the handlers get the whole Session)."""

    @property
    def login(self) -> LoginState: ...

    @property
    def peer(self) -> str: ...

    async def reply(self, code: int, text: str) -> None: ...

    def storage_failed(self, error: OSError, reply: Reply) -> None: ...


class Arg(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class CommandSpec:
    verb: str
    handler: Handler
    argument: Arg
    needs_login: bool
    permission: str | None
    syntax: str  # e.g. "RETR <path>"
    help: str
    feature: str | None  # a FEAT line, for extensions (RFC 2389)
    during_transfer: bool  # may run while a transfer is going (ABOR, STAT)
    offered: Callable[[ServerConfig], bool] | None  # FEAT lists it only where this holds
    capability: str | None = None  # ...and where the storage has this (Storage.can_*)


COMMANDS: dict[str, CommandSpec] = {}

# Commands of RFC 959 and common extensions that we know of but do not offer: 502, not 500.
NOT_IMPLEMENTED = frozenset({"ACCT", "SMNT", "REIN", "ADAT", "XRSQ", "XSEM"})


def command(
    verb: str,
    *aliases: str,
    argument: Arg = Arg.NONE,
    login: bool = True,
    permission: str | None = None,
    syntax: str = "",
    help: str = "",
    feature: str | None = None,
    during_transfer: bool = False,
    offered: Callable[[ServerConfig], bool] | None = None,
    capability: str | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler under `verb` (and aliases such as XPWD for PWD)."""

    def register(handler: Handler) -> Handler:
        for name in (verb, *aliases):
            COMMANDS[name] = CommandSpec(
                name, handler, argument, login, permission,
                syntax or (f"{name} <arg>" if argument is Arg.REQUIRED else name),
                help, feature, during_transfer, offered, capability,
            )  # fmt: skip
        return handler

    return register


def check(session: Dispatched, cmd: Command) -> tuple[CommandSpec | None, Reply | None]:
    """The fixed-order checks; returns the spec to run or the refusal to send."""
    spec = COMMANDS.get(cmd.verb)
    if spec is None:
        if cmd.verb in NOT_IMPLEMENTED:
            return None, Reply(Code.NOT_IMPLEMENTED, f"{cmd.verb} not implemented")
        return None, Reply(Code.SYNTAX_ERROR, f"Unknown command {cmd.verb[:16]}")
    if spec.argument is Arg.REQUIRED and not cmd.argument.strip():
        return None, Reply(Code.BAD_ARGUMENT, f"Syntax error: {spec.syntax}")
    if spec.argument is Arg.NONE and cmd.argument.strip():
        return None, Reply(Code.BAD_ARGUMENT, f"Syntax error: {spec.verb} takes no argument")
    refusal = _access_refusal(session, spec.needs_login, spec.permission)
    return (None, refusal) if refusal is not None else (spec, None)


def _access_refusal(session: Dispatched, needs_login: bool, permission: str | None) -> Reply | None:
    if needs_login and session.login.account is None:
        return Reply(Code.NOT_LOGGED_IN, "Please log in with USER and PASS first")
    if permission and session.login.account and not session.login.account.may(permission):
        return Reply(Code.FILE_UNAVAILABLE, "Permission denied")
    return None


def require_access(session: Dispatched, permission: str) -> None:
    """The dispatcher's login and permission checks, for a form of a command whose needs
    differ from the command's own (STAT <path> lists, SITE CHMOD writes): raises the refusal."""
    refusal = _access_refusal(session, True, permission)
    if refusal is not None:
        raise FTPError(refusal.code, refusal.text)


async def dispatch(session: Dispatched, cmd: Command) -> None:
    spec, refusal = check(session, cmd)
    if spec is None:
        assert refusal is not None
        await session.reply(refusal.code, refusal.text)
        return
    try:
        await spec.handler(session, cmd.argument)
    except FTPError as error:
        await session.reply(error.reply.code, error.reply.text)
    except OSError as error:
        reply = reply_for_os_error(error)
        session.storage_failed(error, reply)
        await session.reply(reply.code, reply.text)
    except NotImplementedError:
        await session.reply(Code.NOT_IMPLEMENTED, f"{cmd.verb} is not supported by this storage")
    except Exception:
        # A bug must cost one command, never the session or the server.
        log.exception("%s internal error in %s", session.peer, cmd)
        await session.reply(Code.LOCAL_ERROR, "Internal error; the command was not completed")


def feature_lines(config: ServerConfig, storage: object = None) -> list[str]:
    """FEAT's lines; `storage` (a Storage or its class) drops what the backend cannot do."""
    return sorted(
        {
            spec.feature
            for spec in COMMANDS.values()
            if spec.feature
            and (spec.offered is None or spec.offered(config))
            and (spec.capability is None or getattr(storage, spec.capability, True))
        }
    )


def help_text(verb: str | None = None) -> Reply:
    if verb:
        spec = COMMANDS.get(verb.upper())
        if spec is None:
            return Reply(Code.BAD_ARGUMENT, f"Unknown command {verb[:16]}")
        return Reply(Code.HELP, f"Syntax: {spec.syntax} - {spec.help}")
    verbs = sorted(COMMANDS)
    rows = [" ".join(f"{v:<5}" for v in verbs[i : i + 10]).rstrip() for i in range(0, len(verbs), 10)]
    return Reply(Code.HELP, "\n".join(["The following commands are recognized:", *rows, "Help OK."]))
