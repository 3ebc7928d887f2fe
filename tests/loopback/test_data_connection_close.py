"""Closing a data connection: a transfer's clean close followed by its clean-up abort.

asyncio's selector transport, closed while data is still queued, ends the connection by
itself once the data went out, without marking it lost; a later abort() used to fail there,
killing the transfer task before it sent 226 (the client then waited for a reply forever).
"""

from __future__ import annotations

import asyncio
import socket

from aioftp_lite.server.datachannel import DataConnection

QUEUED = 8 * 1024 * 1024  # far more than the kernel's socket buffers take at once


async def test_abort_after_a_close_whose_queued_data_went_out_is_harmless() -> None:
    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    connection = DataConnection(server_end, 64 * 1024)
    _reader, writer = await connection.streams()
    writer.write(b"x" * QUEUED)
    assert writer.transport.get_write_buffer_size() > 0  # still queued in the transport
    writer.close()  # what a clean close does with data still queued

    def read_all() -> int:
        received = 0
        while chunk := client_end.recv(1 << 20):
            received += len(chunk)
        return received

    received = await asyncio.wait_for(asyncio.to_thread(read_all), 30)
    await asyncio.sleep(0)  # the transport's own end of the connection has run
    assert received == QUEUED
    connection.abort()  # the transfer's clean-up: must be a no-op now
    connection.abort(reset=True)
    client_end.close()


async def test_abort_still_drops_a_connection_whose_client_stopped_reading() -> None:
    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    connection = DataConnection(server_end, 64 * 1024)
    _reader, writer = await connection.streams()
    writer.write(b"x" * QUEUED)
    writer.close()  # the client reads nothing: the data stays queued
    connection.abort(reset=True)
    await asyncio.sleep(0)
    assert writer.transport.is_closing()
    client_end.settimeout(5)
    received = 0
    while chunk := client_end.recv(1 << 20):  # what the kernel had, then the end: no hang
        received += len(chunk)
    assert received < QUEUED  # the queued rest was dropped, not sent
    client_end.close()
