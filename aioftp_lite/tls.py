"""TLS for explicit FTPS (RFC 4217), with the standard `ssl` module."""

from __future__ import annotations

import contextlib
import contextvars
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# False while a data connection's TLS object is being created (see FTPSContext).
_session_tickets: contextvars.ContextVar[bool] = contextvars.ContextVar("session_tickets", default=True)


class FTPSContext(ssl.SSLContext):
    """An SSLContext that sends TLS 1.3 session tickets on control connections only.

    Tickets arrive after the handshake; a client that only writes on a data
    connection (an upload) never reads them and closes with them unread, so its
    kernel sends RST and the end of the upload is lost (curl issue 6149). Data
    connections resume the control connection's session and need no tickets of
    their own. OpenSSL copies the ticket count when the connection is created,
    so setting it around `wrap_bio` affects that one connection.
    """

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        if _session_tickets.get():
            return super().wrap_bio(*args, **kwargs)
        saved, self.num_tickets = self.num_tickets, 0
        try:
            return super().wrap_bio(*args, **kwargs)
        finally:
            self.num_tickets = saved


@contextlib.contextmanager
def without_session_tickets() -> Iterator[None]:
    """TLS connections set up inside this block (data connections) get no tickets.

    asyncio creates the TLS object in a callback that runs in a copy of the
    current context, so a context variable reaches it.
    """
    token = _session_tickets.set(False)
    try:
        yield
    finally:
        _session_tickets.reset(token)


def server_context(cert: Path, key: Path | None = None) -> FTPSContext:
    """A server context with modern defaults (TLS 1.2+).

    One context serves the control and every data connection, so TLS sessions
    negotiated on the control connection can be resumed on data connections, as
    curl and FileZilla expect.
    """
    context = FTPSContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def client_context(cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
