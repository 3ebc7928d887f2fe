"""TLS for explicit FTPS (RFC 4217), with the standard `ssl` module."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert: Path, key: Path | None = None) -> ssl.SSLContext:
    """A server context with modern defaults (TLS 1.2+).

    One context serves the control and every data connection, so TLS sessions
    negotiated on the control connection can be resumed on data connections, as
    curl and FileZilla expect.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def client_context(cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
