"""What happened on the server, as typed events, and the bus that hands them to its sinks.

The server emits an event where a login, a transfer or a file operation finishes; the
transfer log line, the xferlog, the Prometheus metrics and the hooks are sinks. A sink is a
plain callable run on the event loop: it must not block, and one that needs to wait (a hook)
queues the event for a task of its own. With no sink, emitting is one empty list iteration.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("aioftp_lite.events")

# Peers are "host:port" as the log lines name them; events keep that form.


def _host_of(peer: str) -> str:
    return peer.rpartition(":")[0] or peer


@dataclass(frozen=True, slots=True)
class ConnectionAccepted:
    peer: str


@dataclass(frozen=True, slots=True)
class ConnectionRefused:
    peer: str
    reason: str  # "limit", "per_ip", "banned", "shutdown"


@dataclass(frozen=True, slots=True)
class SessionClosed:
    peer: str
    user: str  # "-" if it never logged in


@dataclass(frozen=True, slots=True)
class LoginSucceeded:
    peer: str
    user: str
    anonymous: bool


@dataclass(frozen=True, slots=True)
class LoginFailed:
    peer: str
    user: str
    anonymous: bool  # the name tried was an anonymous one


@dataclass(frozen=True, slots=True)
class Banned:
    address: str
    seconds: float
    count: int  # the how-manieth ban of this address


@dataclass(frozen=True, slots=True)
class DataSent:
    """One use of the data connection, finished: a transfer or a listing."""

    peer: str
    user: str
    verb: str  # RETR, STOR, APPE, STOU, LIST, NLST, MLSD
    path: str
    size: int  # bytes moved
    seconds: float
    result: str  # "ok", "aborted" (426: ABOR, a lost or stalled connection) or "failed"
    reply: str  # the final reply, "226 Transfer complete (5 bytes)"
    strategy: str  # how the bytes moved (sendfile, splice, ...)


@dataclass(frozen=True, slots=True)
class TransferDone(DataSent):
    direction: str  # "download" or "upload"
    ascii: bool  # TYPE A
    anonymous: bool


@dataclass(frozen=True, slots=True)
class ListingDone(DataSent):
    pass


@dataclass(frozen=True, slots=True)
class Deleted:
    peer: str
    user: str
    path: str
    folder: bool  # RMD rather than DELE


@dataclass(frozen=True, slots=True)
class Renamed:
    peer: str
    user: str
    path: str  # the old name
    target: str


@dataclass(frozen=True, slots=True)
class FolderMade:
    peer: str
    user: str
    path: str


@dataclass(frozen=True, slots=True)
class TLSHandshake:
    peer: str
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class StorageFailed:
    """A storage operation failed on the server's side (451/452), not for the client's mistake."""

    peer: str
    user: str
    backend: str  # "local", "s3", "memory", ...
    error: str


# Asked before acting: a hook may refuse them (hooks.py); they are not sent to sinks.
@dataclass(frozen=True, slots=True)
class UploadStarting:
    peer: str
    user: str
    path: str
    verb: str


@dataclass(frozen=True, slots=True)
class DeleteStarting:
    peer: str
    user: str
    path: str
    folder: bool


Event = (
    ConnectionAccepted | ConnectionRefused | SessionClosed | LoginSucceeded | LoginFailed | Banned
    | TransferDone | ListingDone | Deleted | Renamed | FolderMade | TLSHandshake | StorageFailed
)  # fmt: skip
Sink = Callable[[Event], None]


def event_fields(event: object) -> dict[str, str | int | float | bool]:
    """The event's fields by name (and the client's address alone as `client`), for hooks and logs."""
    out: dict[str, str | int | float | bool] = {
        field.name: getattr(event, field.name)
        for field in dataclasses.fields(event)  # type: ignore[arg-type]
    }
    peer = out.get("peer")
    if isinstance(peer, str):
        out["client"] = _host_of(peer)
    return out


class EventBus:
    """Hands each event to every sink in turn; a failing sink is logged and the others still run."""

    __slots__ = ("sinks",)

    def __init__(self) -> None:
        self.sinks: list[Sink] = []

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:
                log.exception("event sink %r failed on %s", sink, type(event).__name__)
