"""A protected data connection must resume its control connection's TLS session (issue 12 point 9).

The attack: a local neighbour connects first to a PROT P session's passive port and
does a TLS handshake of its own; without the resumption requirement it received the
victim's file. Resuming clients (curl, lftp, a resuming ftplib, our own client) keep
working, over TLS 1.2 and 1.3; the standard library's FTP_TLS, which does not resume,
is refused unless the server runs with tls_session_reuse=False.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from pathlib import Path

import pytest

from aioftp_lite.tls import server_context
from tests.support.threads import in_thread
from tests.support.tls import (
    Certificates,
    tls_server,
)
from tests.support.tls_reuse import (
    TIMEOUT,
    VERSIONS,
    Intruder,
    code_of,
    control_closed,
    login,
    passive_port,
    sha256,
)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_fresh_handshake_on_the_passive_port_gets_nothing(root: Path, certs: Certificates,
                                                                  version: ssl.TLSVersion) -> None:  # fmt: skip
    secret = os.urandom(400_000)
    (root / "secret.bin").write_bytes(secret)

    def attack(port: int) -> tuple[bytes, str, int, bool, bytes]:
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), certs.client_context(version))
            opening = victim.sendcmd("RETR secret.bin")  # the victim never connects: the intruder was first
            final = code_of(victim.getresp)
            intruder.join()
            closed = control_closed(victim)
        finally:
            victim.close()
        # The server still serves a resuming client in full.
        again = login(port, certs.client_context())
        received = bytearray()
        again.retrbinary("RETR secret.bin", received.extend)
        again.quit()
        return bytes(intruder.received), opening, final, closed, bytes(received)

    async with tls_server(root, certs) as server:
        stolen, opening, final, closed, received = await in_thread(lambda: attack(server.port))
    assert stolen == b"", f"the intruder received {len(stolen)} bytes"
    assert opening.startswith("150")
    assert final == 522  # vsftpd's code for a data connection whose TLS it refuses
    assert closed, "the session whose data connection was intruded should end (as vsftpd's does)"
    assert sha256(received) == sha256(secret)


async def test_a_session_of_another_control_connection_is_not_resumed(
    root: Path, certs: Certificates
) -> None:
    """The intruder logs in on a control connection of its own and offers that TLS session
    on the victim's data connection: it is not a session of the victim's connection."""
    secret = os.urandom(300_000)
    (root / "secret.bin").write_bytes(secret)

    def attack(port: int) -> tuple[bytes, bool | None, int]:
        context = certs.client_context()  # one context: its session may be offered anywhere
        own = login(port, context)
        own.nlst()  # the intruder's own data connection resumes its own session
        assert own.resumed == [True]  # type: ignore[attr-defined]
        assert isinstance(own.sock, ssl.SSLSocket)
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), context, session=own.sock.session)
            victim.sendcmd("RETR secret.bin")
            final = code_of(victim.getresp)
            intruder.join()
        finally:
            victim.close()
            own.close()
        return bytes(intruder.received), intruder.resumed, final

    async with tls_server(root, certs) as server:
        stolen, resumed, final = await in_thread(lambda: attack(server.port))
    assert stolen == b""
    assert resumed is not True  # the victim's context cannot even read the intruder's ticket
    assert final == 522


async def test_upload_data_from_an_intruder_is_not_stored(root: Path, certs: Certificates) -> None:
    (root / "kept.txt").write_bytes(b"original\n")

    def attack(port: int) -> int:
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), certs.client_context(), upload=b"forged\n" * 50_000)
            victim.sendcmd("STOR kept.txt")
            final = code_of(victim.getresp)
            intruder.join()
            return final
        finally:
            victim.close()

    async with tls_server(root, certs) as server:
        final = await in_thread(lambda: attack(server.port))
    assert final == 522
    assert sorted(p.name for p in root.iterdir()) == ["kept.txt"]  # no partial upload left behind
    assert (root / "kept.txt").read_bytes() == b"original\n"


def test_after_one_refusal_even_a_resumed_session_is_refused(certs: Certificates) -> None:
    """With TLS 1.2 a refused data connection's full handshake got a ticket of the
    connection's context; resuming that ticket later must not pass (tls.py)."""
    template = server_context(certs.server_pem)
    context = template.for_connection()
    client_context = certs.client_context(ssl.TLSVersion.TLSv1_2)

    def handshake(session: ssl.SSLSession | None) -> tuple[bool, bool, ssl.SSLSession | None]:
        server_end, client_end = socket.socketpair()
        with server_end, client_end:
            server_end.settimeout(TIMEOUT)
            client_end.settimeout(TIMEOUT)
            done: list[ssl.SSLSocket] = []
            client = threading.Thread(target=lambda: done.append(client_context.wrap_socket(
                client_end, server_hostname="127.0.0.1", session=session)))  # fmt: skip
            client.start()
            served = context.wrap_socket(server_end, server_side=True)
            client.join(TIMEOUT)
            accepted = context.accepts_data_connection(served)  # type: ignore[arg-type]
            return served.session_reused, accepted, done[0].session

    fresh_reused, fresh_accepted, ticket = handshake(None)
    assert (fresh_reused, fresh_accepted) == (False, False)
    resumed, accepted = handshake(ticket)[:2]
    assert resumed  # the intruder's own ticket does resume...
    assert not accepted  # ...but proves nothing now
