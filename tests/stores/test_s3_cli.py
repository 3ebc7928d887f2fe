"""`aioftp-lite serve --storage s3://...` as a process: the start-up check, the config file,
and the memory a big upload costs."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
from pathlib import Path

import psutil
import pytest

from benchmarks.seaweedfs import SeaweedFS
from tests.support.clients import connect_ftplib
from tests.support.processes import SCRIPT, START_TIMEOUT, serve
from tests.support.s3 import BUCKET, fresh_prefix
from tests.support.threads import in_thread

MiB = 1024 * 1024


async def start_failure(*arguments: str, cwd: Path, **environment: str) -> tuple[int, str]:
    """Run `serve` expecting it to stop at start-up; returns (exit status, stderr)."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT), "serve", "--port", "0", *arguments, cwd=cwd, env={**os.environ, **environment},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("missing bucket", "bucket 'no-such-bucket' does not exist"),
        ("wrong credentials", "refused the credentials"),
        ("unreachable endpoint", "Object store unreachable"),
    ],
)
async def test_start_up_check_gives_one_line_and_status_2(
    seaweedfs: SeaweedFS, tmp_path: Path, problem: str, expected: str
) -> None:
    bucket, endpoint, environment = BUCKET, seaweedfs.endpoint, {}
    if problem == "missing bucket":
        bucket = "no-such-bucket"
    elif problem == "wrong credentials":
        environment = {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    else:
        endpoint = f"http://127.0.0.1:{closed_port()}"
    status, stderr = await start_failure(
        "--storage", f"s3://{bucket}/files", "--s3-endpoint", endpoint, cwd=tmp_path, **environment
    )
    assert status == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"aioftp-lite: error: cannot serve s3://{bucket}/files: ") and expected in stderr


async def test_a_bad_storage_url_is_a_usage_error(tmp_path: Path) -> None:
    status, stderr = await start_failure("--storage", "s3:///no-bucket", cwd=tmp_path)
    assert status == 2 and "expected s3://BUCKET/PREFIX" in stderr and stderr.count("\n") == 1


async def test_config_file_storage_section_and_upload_memory(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    """The [storage] section serves the bucket; a 96 MiB STOR (twelve parts of 8 MiB) grows the
    server's memory by far less than the file: parts stream, at most two in flight."""
    prefix = fresh_prefix()
    config = tmp_path / "server.toml"
    config.write_text(
        f'[server]\nanonymous = "write"\n[storage]\nbackend = "s3"\nbucket = "{BUCKET}"\n'
        f'prefix = "{prefix}"\nendpoint = "{seaweedfs.endpoint}"\nregion = "us-east-1"\npart_size = {8 * MiB}\n',
        encoding="utf-8",
    )
    size = 96 * MiB
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    async with serve(
        "--config", str(config), "--port", "0", "--log-level", "WARNING", cwd=tmp_path
    ) as running:
        assert f"serving s3://{BUCKET}/{prefix} on" in running.banner
        server = psutil.Process(running.process.pid)

        def session() -> tuple[int, int, bytes]:
            with connect_ftplib(running.port, timeout=60) as client:
                client.storbinary("STOR small.txt", io.BytesIO(b"warm up"))  # the client's pools exist
                before = server.memory_info().rss
                peak = before

                class Source(io.RawIOBase):
                    sent = 0

                    def readable(self) -> bool:
                        return True

                    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
                        nonlocal peak
                        if self.sent >= size:
                            return 0
                        count = min(len(buffer), len(block), size - self.sent)
                        buffer[:count] = block[:count]
                        self.sent += count
                        if self.sent % (8 * MiB) == 0:
                            peak = max(peak, server.memory_info().rss)
                        return count

                client.storbinary("STOR big.bin", io.BufferedReader(Source()), blocksize=MiB)
                peak = max(peak, server.memory_info().rss)
                digest = hashlib.sha256()
                client.retrbinary("RETR big.bin", digest.update, blocksize=MiB)
                return before, peak, digest.digest()

        before, peak, digest = await in_thread(session, timeout=240)
    expected = hashlib.sha256(block * (size // len(block))).digest()
    assert digest == expected
    assert peak - before < 64 * MiB, f"RSS grew by {(peak - before) / MiB:.0f} MiB"
