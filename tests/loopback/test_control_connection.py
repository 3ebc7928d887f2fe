"""The control connection's line handling (server/control.py) over real sockets.

Pipelined commands past the read-pause mark, a line trickled one byte at a time, the
exact length limit, and the STARTTLS injection (clear text sent behind AUTH TLS must
never run as if it had come over TLS). Clients are blocking sockets in a worker thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from aioftp_lite import Server
from tests.support.control import RawControl
from tests.support.threads import in_thread

LIMIT = 64  # a small max_line_length, so the limit is cheap to reach


@pytest.fixture
async def small_limit_server(root: Path) -> AsyncIterator[Server]:
    async with Server(root=root, host="127.0.0.1", port=0, max_line_length=LIMIT) as running:
        yield running


async def test_pipelined_commands_past_the_pause_mark_are_all_answered_in_order(
    small_limit_server: Server,
) -> None:
    count = 2_000  # 2,000 lines in one send: far above twice the limit, so reading pauses

    def session() -> list[str]:
        control = RawControl(small_limit_server.port)
        try:
            control.login()
            lines = [f"MKD dir{i}" for i in range(count)]
            control.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())
            return [control.read_reply().lines[0] for _ in range(count)]
        finally:
            control.close()

    replies = await in_thread(session, timeout=60)
    assert [reply[:3] for reply in replies] == ["257"] * count
    assert [reply.split('"')[1] for reply in replies] == [f"/dir{i}" for i in range(count)]


async def test_a_line_trickled_one_byte_at_a_time_is_one_command(small_limit_server: Server) -> None:
    def session() -> tuple[int, int]:
        control = RawControl(small_limit_server.port)
        try:
            control.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in b"USER anonymous\r\n":
                control.sock.sendall(bytes([byte]))
                time.sleep(0.002)  # each byte its own segment
            first = control.read_reply().code
            return first, control.command("PASS guest@").code
        finally:
            control.close()

    assert await in_thread(session) == (331, 230)


async def test_the_line_limit_counts_the_bytes_before_the_newline(small_limit_server: Server) -> None:
    def session() -> list[int]:
        control = RawControl(small_limit_server.port)
        try:
            at_limit = b"NOOP " + b"x" * (LIMIT - len(b"NOOP ")) + b"\n"  # LIMIT bytes, then newline
            over = b"NOOP " + b"x" * (LIMIT + 1 - len(b"NOOP ")) + b"\n"
            codes = []
            for line in (at_limit, over, over + b"NOOP\r\n"):
                control.sock.sendall(line)
                codes.append(control.read_reply().code)
            codes.append(control.read_reply().code)  # the NOOP behind the dropped line
            return codes
        finally:
            control.close()

    # At the limit: a normal line (NOOP takes no argument: 501). One byte over: 500, dropped.
    assert await in_thread(session) == [501, 500, 500, 200]


async def test_clear_text_sent_behind_auth_tls_is_not_run_over_tls(root: Path, tmp_path: Path) -> None:
    authority = trustme.CA()
    server_pem, ca_pem = tmp_path / "server.pem", tmp_path / "ca.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    authority.cert_pem.write_to_path(str(ca_pem))

    def session(port: int) -> tuple[int, list[str]]:
        control = RawControl(port)
        try:
            # The injection (CVE-2011-0411): a second command in the same clear-text segment.
            control.sock.sendall(b"AUTH TLS\r\nUSER anonymous\r\n")
            auth = control.read_reply().code
            context = ssl.create_default_context(cafile=str(ca_pem))
            with context.wrap_socket(control.sock, server_hostname="127.0.0.1") as tls:
                tls.settimeout(10)
                tls.sendall(b"NOOP\r\n")
                received = b""
                while not received.endswith(b"\r\n"):
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    received += chunk
                return auth, received.decode().splitlines()
        finally:
            control.close()

    async with Server(root=root, host="127.0.0.1", port=0, tls_cert=server_pem) as server:
        auth, replies = await in_thread(lambda: session(server.port))
    assert auth == 234
    assert replies and replies[0].startswith("200"), replies  # the NOOP's, not 331 to the USER


async def test_a_client_that_never_reads_replies_cannot_grow_the_servers_buffers(root: Path) -> None:
    """60,000 pipelined HELPs owe the client ~30 MB of replies: the session waits in drain()
    and then stops reading, so user-space buffers stay bounded; all replies arrive in the end."""
    count = 60_000
    async with Server(root=root, host="127.0.0.1", port=0) as server:
        control = await in_thread(lambda: RawControl(server.port))
        try:
            await in_thread(lambda: control.sock.sendall(b"HELP\r\n" * count))
            await asyncio.sleep(1.0)  # the server answers until the kernel buffers are full
            [session] = server._sessions.values()
            line_buffer = len(session._control._buffer)
            write_buffer = session._control.transport.get_write_buffer_size()
            assert line_buffer <= 2 * 4096 + 256 * 1024, line_buffer  # the pause mark plus one socket read
            assert write_buffer <= 1 << 20, write_buffer

            def read_all_replies() -> int:
                end = b"\r\n214 Help OK.\r\n"  # the last line of each HELP reply
                seen, tail = 0, b""
                while seen < count:
                    chunk = control.sock.recv(1 << 20)
                    if not chunk:
                        break
                    data = tail + chunk
                    seen += data.count(end)
                    tail = data[-(len(end) - 1) :]  # too short to hold a whole `end` again
                return seen

            assert await in_thread(read_all_replies, timeout=60) == count
        finally:
            control.close()
