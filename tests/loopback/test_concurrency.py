"""100 ftplib clients at once against one server task: distinct uploads and downloads.

Each client runs in its own thread (a pool of 100 workers, so none waits for a free
worker), logs in, waits on a barrier until all 100 sessions are open at the same time,
then uploads its own file, downloads it back and lists its folder. sha256 is checked on
the downloaded copy and, afterwards, on every stored file on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER, connect_ftplib

CLIENTS = 100
TIME_BOUND = 30.0  # seconds for the whole run


def content_for(index: int) -> bytes:
    """64-256 KiB of random bytes, different size and content for every client."""
    generator = random.Random(index)
    return generator.randbytes(generator.randint(64 * 1024, 256 * 1024))


def one_client(port: int, index: int, barrier: threading.Barrier) -> tuple[str, int]:
    """Upload then download one file; returns (sha256 of the download, size listed by the server)."""
    data = content_for(index)
    # Half anonymous, half the named user: both login paths under load.
    user, password = (USER, PASSWORD) if index % 2 else ("anonymous", "guest@")
    client = connect_ftplib(port, user, password, timeout=TIME_BOUND)
    try:
        barrier.wait(timeout=TIME_BOUND)  # every session is open at this point
        folder = f"client-{index:03d}"
        client.mkd(folder)
        client.cwd(folder)
        client.storbinary(f"STOR file {index}.bin", io.BytesIO(data), blocksize=32 * 1024)
        received = io.BytesIO()
        client.retrbinary(f"RETR file {index}.bin", received.write, blocksize=32 * 1024)
        listed = client.size(f"file {index}.bin")
        assert client.nlst() == [f"file {index}.bin"]
        client.quit()
    except BaseException:
        client.close()
        raise
    return hashlib.sha256(received.getvalue()).hexdigest(), listed or -1


async def test_hundred_clients_upload_and_download_distinct_files(server: Server, root: Path) -> None:
    loop = asyncio.get_running_loop()
    barrier = threading.Barrier(CLIENTS)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="ftp-client") as pool:
        futures = [loop.run_in_executor(pool, one_client, server.port, i, barrier) for i in range(CLIENTS)]
        try:
            results = await asyncio.wait_for(asyncio.gather(*futures), TIME_BOUND)
        except BaseException:
            barrier.abort()  # release any thread still waiting so the pool can shut down
            raise
    elapsed = time.monotonic() - started
    print(f"\n{CLIENTS} concurrent clients: {elapsed:.2f} s")

    for index, (downloaded_sha, listed_size) in enumerate(results):
        expected = content_for(index)
        assert downloaded_sha == hashlib.sha256(expected).hexdigest(), index
        assert listed_size == len(expected), index
        stored = root / f"client-{index:03d}" / f"file {index}.bin"
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == downloaded_sha, index
    # Nothing else on disk: no temporary upload file left anywhere.
    assert sorted(os.listdir(root)) == [f"client-{i:03d}" for i in range(CLIENTS)]
    assert all(os.listdir(root / f"client-{i:03d}") == [f"file {i}.bin"] for i in range(CLIENTS))


async def test_many_clients_download_the_same_file_while_others_replace_files(server: Server,
                                                                              root: Path) -> None:  # fmt: skip
    """Readers of one shared file see complete content while writers keep replacing other files."""
    shared = random.Random(-1).randbytes(512 * 1024)
    (root / "shared.bin").write_bytes(shared)
    shared_sha = hashlib.sha256(shared).hexdigest()
    versions = [random.Random(v).randbytes(200 * 1024 + v) for v in range(3)]
    (root / "hot.bin").write_bytes(versions[0])

    def reader(_index: int) -> list[str]:
        client = connect_ftplib(server.port, timeout=TIME_BOUND)
        digests = []
        for _ in range(3):
            received = io.BytesIO()
            client.retrbinary("RETR shared.bin", received.write)
            digests.append(hashlib.sha256(received.getvalue()).hexdigest())
            received = io.BytesIO()
            client.retrbinary("RETR hot.bin", received.write)
            digests.append(hashlib.sha256(received.getvalue()).hexdigest())
        client.quit()
        return digests

    def writer(index: int) -> None:
        client = connect_ftplib(server.port, USER, PASSWORD, timeout=TIME_BOUND)
        for round_number in range(3):
            client.storbinary("STOR hot.bin", io.BytesIO(versions[(index + round_number) % 3]))
        client.quit()

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=40) as pool:
        readers = [loop.run_in_executor(pool, reader, i) for i in range(30)]
        writers = [loop.run_in_executor(pool, writer, i) for i in range(10)]
        read_results, _ = await asyncio.wait_for(
            asyncio.gather(asyncio.gather(*readers), asyncio.gather(*writers)), TIME_BOUND
        )

    valid_hot = {hashlib.sha256(v).hexdigest() for v in versions}
    for digests in read_results:
        assert digests[0::2] == [shared_sha] * 3
        # Atomic replacement: a reader gets one whole version, never a mix or a truncated file.
        assert set(digests[1::2]) <= valid_hot
    assert hashlib.sha256((root / "hot.bin").read_bytes()).hexdigest() in valid_hot
    assert sorted(os.listdir(root)) == ["hot.bin", "shared.bin"]
