"""TLS for explicit FTPS (RFC 4217), with the standard `ssl` module.

Protected data connections must resume the control connection's TLS session
(vsftpd's require_ssl_reuse): only the client that made the control connection
holds that session's secrets, so a local neighbour who connects first to a
passive port cannot take the transfer with a handshake of its own.

The ssl module cannot tell which connection a resumed session came from:
`session_reused` is all it says. With TLS 1.3 every ticket is a session of its
own with its own id, and with TLS 1.2 tickets the server-side session id is the
one the client chose (OpenSSL clients: a hash of the ticket; GnuTLS: random),
so comparing ids refuses honest clients. And Python's server contexts resume
from tickets only (their session-id cache is never hit), so one shared context
would let any client of the server resume its own session on someone else's
data connection. Hence one context per control connection: tickets are
encrypted with a key of that context alone, so "resumed" means "resumed a
session of this control connection".

One gap remains: with TLS 1.2 a data connection's full handshake gets a ticket
too (TLS 1.3 data connections get none, see FTPSContext), and a refused
intruder could resume it later. So after one refusal the context accepts no
data connection at all, and, as vsftpd does, the session ends; its context
goes with it, and the client reconnects.
"""

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

    # Cert and key it was loaded from (to make per-connection siblings).
    certificate: tuple[Path, Path | None]
    # Data connections must resume a session of this context (see the module's notes).
    require_resumption = False
    _intruded = False

    def for_connection(self) -> FTPSContext:
        """A fresh context for one control connection whose data connections must
        resume its session (see the module's notes).

        About 1 ms of OpenSSL work per AUTH TLS (a new SSL_CTX, load_cert_chain),
        and 26 KiB. Raises OSError (ssl.SSLError) if the certificate files
        became unreadable since the start.
        """
        context = server_context(*self.certificate)
        context.require_resumption = True
        return context

    def accepts_data_connection(self, data: ssl.SSLObject) -> bool:
        """Whether a protected data connection's completed handshake may carry a transfer.

        After one refusal, none: that full handshake may have got a ticket of
        this context (TLS 1.2), so "resumed" proves nothing any more.
        """
        if not self.require_resumption:
            return True
        if not data.session_reused:
            self._intruded = True
        return not self._intruded

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

    A control connection and its data connections share a context, so the
    session negotiated on the control connection can be resumed on data
    connections, as curl, lftp and FileZilla do. Resumption is by session
    tickets, TLS 1.2 (RFC 5077) and 1.3 alike: OpenSSL's defaults, kept here
    (no OP_NO_TICKET; `num_tickets` 2, sent on control connections only).
    Sessions live 2 hours (OpenSSL's default; the ssl module has no setter):
    an older control connection can no longer resume, so with resumption
    required its protected transfers are refused and the client reconnects.
    """
    context = FTPSContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key) if key else None)
    context.certificate = (cert, key)
    return context


def client_context(cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
