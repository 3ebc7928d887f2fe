"""Explicit FTPS on the client side (RFC 4217): contexts, and TLS data connections.

The FTP client is the TLS client on every data connection, whichever side opened
the TCP connection (RFC 4217 section 7), and checks the certificate against the
host name it was given for the control connection.

Session reuse. Servers such as vsftpd (require_ssl_reuse, on by default) accept a
protected data connection only if it resumes the control connection's TLS
session, which proves that the same client opened both. asyncio's streams and
`loop.start_tls` take no `session=` argument, so there is no direct way to offer
one. The documented hook `SSLContext.sslobject_class` is used instead: the
context's TLS objects become `_ResumingSSLObject`, which offers the session found
in a context variable before its first handshake step. The data-connection code
sets that variable around `start_tls`; asyncio creates the TLS object in a
callback that runs in a copy of the caller's context, so the variable reaches it
and nothing else sees it. Everywhere else the class behaves as `ssl.SSLObject`.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
from dataclasses import dataclass

from ..tls import client_context

# The session the next client-side TLS object (created in this context) should resume.
_session_to_resume: contextvars.ContextVar[ssl.SSLSession | None] = contextvars.ContextVar(
    "session_to_resume", default=None
)


class _ResumingSSLObject(ssl.SSLObject):
    _resumption_offered = False

    def do_handshake(self) -> None:
        if not self._resumption_offered:  # the first call, made where the TLS object was created
            self._resumption_offered = True
            session = _session_to_resume.get()
            if session is not None and not self.server_side:
                try:
                    self.session = session
                except (ValueError, ssl.SSLError):
                    pass  # a session from another context: a full handshake instead
        super().do_handshake()


def client_tls_context(tls: bool | ssl.SSLContext) -> ssl.SSLContext | None:
    """FTPClient's `tls` argument -> the context to use (None: plain FTP).

    True gives a verifying context with the system's CAs. A given context is used
    as it is, except that its TLS objects learn to resume sessions (see above);
    one whose `sslobject_class` was customised already is left alone (no reuse).
    """
    if tls is False:
        return None
    context = client_context() if tls is True else tls
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(f"tls must be a bool or an ssl.SSLContext, not {type(tls).__name__}")
    if context.sslobject_class is ssl.SSLObject:
        context.sslobject_class = _ResumingSSLObject
    return context


@dataclass(frozen=True)
class DataTLS:
    """How to protect data connections (PROT P is in force)."""

    context: ssl.SSLContext
    server_hostname: str  # the host name the control connection was opened with
    session: ssl.SSLSession | None  # the control connection's session, offered for reuse


def describe_tls_error(error: BaseException) -> str:
    """One readable line, e.g. `certificate verify failed: unable to get local issuer certificate`."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.lower().replace("_", " ")
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


async def secure_data_stream(writer: asyncio.StreamWriter, tls: DataTLS, timeout: float) -> None:
    """Upgrade an open data connection to TLS (we are the TLS client), resuming the
    control connection's session where the server allows it.

    Raises ConnectionError with a readable reason if the handshake fails.
    """
    token = _session_to_resume.set(tls.session)
    try:
        async with asyncio.timeout(timeout):
            await writer.start_tls(
                tls.context, server_hostname=tls.server_hostname, ssl_handshake_timeout=timeout
            )
    except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
        writer.transport.abort()
        raise ConnectionError(f"TLS on the data connection failed: {describe_tls_error(error)}") from None
    finally:
        _session_to_resume.reset(token)
