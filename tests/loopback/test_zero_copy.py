"""The zero-copy paths (sendfile downloads, splice uploads on a bare data socket) on both
event loops the server runs on: every byte arrives, in order, at the right offset."""

from __future__ import annotations

import ftplib
import hashlib
import os
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.threads import loop_runners, server_in_thread

MiB = 1024 * 1024


@pytest.fixture(params=loop_runners(), ids=lambda runner: runner[0])
def server_port(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    with server_in_thread(tmp_path, request.param[1]) as port:
        yield port


@contextmanager
def ftp(port: int) -> Iterator[ftplib.FTP]:
    client = ftplib.FTP(timeout=10)
    client.connect("127.0.0.1", port)
    client.login()
    client.voidcmd("TYPE I")
    try:
        yield client
    finally:
        client.close()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_trickled_then_bulk_upload_arrives_whole(server_port: int, tmp_path: Path) -> None:
    # Small pieces with pauses (each its own readiness wake-up), then megabytes at once
    # (pipes filled to the brim): the stored file must be the sent bytes, in order.
    payload = os.urandom(9 * MiB + 123)
    with ftp(server_port) as client:
        with client.transfercmd("STOR up.bin") as data:
            for start in range(0, 10_000, 1_000):
                data.sendall(payload[start : start + 1_000])
                time.sleep(0.01)
            data.sendall(payload[10_000:])
        client.voidresp()
        received = bytearray()
        client.retrbinary("RETR up.bin", received.extend)
        tail = bytearray()
        client.retrbinary("RETR up.bin", tail.extend, rest=5 * MiB + 7)
    assert digest((tmp_path / "up.bin").read_bytes()) == digest(payload)
    assert digest(bytes(received)) == digest(payload)
    assert digest(bytes(tail)) == digest(payload[5 * MiB + 7 :])


def test_resumed_upload_writes_at_the_offset_and_ends_the_file_there(
    server_port: int, tmp_path: Path
) -> None:
    old = os.urandom(8 * MiB)
    (tmp_path / "big.bin").write_bytes(old)
    new = os.urandom(2 * MiB + 5)
    with ftp(server_port) as client:
        with client.transfercmd("STOR big.bin", rest=MiB + 3) as data:
            data.sendall(new)
        client.voidresp()
    stored = (tmp_path / "big.bin").read_bytes()
    assert len(stored) == MiB + 3 + len(new)
    assert digest(stored) == digest(old[: MiB + 3] + new)


def test_upload_cut_by_a_reset_leaves_nothing(server_port: int, tmp_path: Path) -> None:
    with ftp(server_port) as client:
        data = client.transfercmd("STOR cut.bin")
        data.sendall(os.urandom(3 * MiB))
        # SO_LINGER 0: close sends RST, the way a crashed client's kernel ends it.
        data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        data.close()
        with pytest.raises(ftplib.error_temp, match="^426"):
            client.voidresp()
        assert client.voidcmd("NOOP").startswith("200")  # the session goes on
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_clients_vanishing_mid_transfer_end_quietly(
    server_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Both connections reset while a download and an upload run: the sessions end
    # without an internal error, and the next client is served in full.
    payload = os.urandom(32 * MiB)
    (tmp_path / "big.bin").write_bytes(payload)
    for command in ("RETR big.bin", "STOR gone.bin"):
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", server_port)
        client.login()
        client.voidcmd("TYPE I")
        data = client.transfercmd(command)
        if command.startswith("STOR"):
            data.sendall(os.urandom(MiB))
        else:
            data.recv(65536)
        for sock in (data, client.sock):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    time.sleep(0.3)
    with ftp(server_port) as client:
        received = bytearray()
        client.retrbinary("RETR big.bin", received.extend)
    assert digest(bytes(received)) == digest(payload)
    assert not (tmp_path / "gone.bin").exists()
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
