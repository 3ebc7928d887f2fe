"""The smallest end-to-end check: ftplib logs in, uploads, downloads, over real sockets."""

import asyncio
import hashlib
import io

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER, connect_ftplib


async def test_upload_then_download_round_trip(server: Server, root) -> None:
    payload = bytes(range(256)) * 4096 + b"tail"

    def session() -> bytes:
        client = connect_ftplib(server.port, USER, PASSWORD)
        client.storbinary("STOR data.bin", io.BytesIO(payload))
        received = io.BytesIO()
        client.retrbinary("RETR data.bin", received.write)
        client.quit()
        return received.getvalue()

    received = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert (root / "data.bin").read_bytes() == payload
