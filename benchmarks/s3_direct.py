"""Direct S3 transfers with aiobotocore, no FTP: the yardstick of the `s3` variant.

    python -m benchmarks.s3_direct retr_big --endpoint URL --bucket B --prefix P --size-mib 512
    python -m benchmarks.s3_direct stor_big --endpoint URL --bucket B --prefix P --size-mib 512

retr_big reads `PREFIX/big.bin` with one streamed GET (as our S3 backend does), checking
size and CRC-32 on the fly; stor_big uploads the same bytes as the FTP scenario as a
multipart upload of 8 MiB parts, at most two in flight (the backend's own settings), then
checks the object's size (untimed) and deletes it. Prints one JSON line in the load
generator's format, so the runner shows it as a column like any server.

`seed` puts the runner's root files into the bucket (untimed set-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from . import payload
from .scenario_kit import BIG_FILE, UPLOAD_DIR

MiB = 1024 * 1024
PART = 8 * MiB
READ = 1 * MiB  # what one read of the GET's body asks for


@asynccontextmanager
async def s3_client(endpoint: str) -> AsyncIterator[Any]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        max_pool_connections=16, s3={"addressing_style": "path"},
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )  # fmt: skip
    async with get_session().create_client("s3", endpoint_url=endpoint, config=config) as client:
        yield client


def _key(prefix: str, name: str) -> str:
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


async def seed(endpoint: str, bucket: str, prefix: str, root: Path) -> None:
    """Every file of `root` (not below it) as an object under `prefix`, and a marker for each
    folder (the upload folder)."""
    async with s3_client(endpoint) as client:
        for path in sorted(root.iterdir()):
            key = _key(prefix, path.name)
            if path.is_dir():
                await client.put_object(Bucket=bucket, Key=key + "/", Body=b"")
            elif path.stat().st_size <= PART:
                await client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            else:
                await _multipart(client, bucket, key, _file_parts(path))


def _file_parts(path: Path) -> Any:
    with open(path, "rb") as file:
        while part := file.read(PART):
            yield part


async def _multipart(client: Any, bucket: str, key: str, parts: Any) -> None:
    """Upload `parts` (an iterator of bytes, all but the last PART long), two in flight."""
    upload = (await client.create_multipart_upload(Bucket=bucket, Key=key))["UploadId"]
    etags: dict[int, str] = {}
    in_flight: set[asyncio.Task[None]] = set()

    async def send(number: int, body: bytes | bytearray) -> None:
        answer = await client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
        )
        etags[number] = answer["ETag"]

    try:
        for number, part in enumerate(parts, start=1):
            while len(in_flight) >= 2:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            in_flight.add(asyncio.create_task(send(number, part)))
        await asyncio.gather(*in_flight)
        await client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]},
        )  # fmt: skip
    except BaseException:
        await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise


def _payload_parts(size: int, salt: int) -> Any:
    """The FTP scenario's bytes (payload, `salt`) in PART-sized pieces."""
    part = bytearray()
    for block in payload.iter_blocks(size, salt):
        part += block
        if len(part) >= PART:
            yield bytes(part[:PART])
            del part[:PART]
    if part:
        yield bytes(part)


async def retr_big(client: Any, bucket: str, key: str, size: int) -> tuple[int, int]:
    answer = await client.get_object(Bucket=bucket, Key=key, Range="bytes=0-")
    got = crc = 0
    async with answer["Body"] as body:
        while chunk := await body.read(READ):
            got += len(chunk)
            crc = payload.crc32(chunk, crc)
    return got, crc


async def measure(scenario: str, endpoint: str, bucket: str, prefix: str, size: int) -> dict[str, Any]:
    errors: dict[str, int] = {}
    corrupt = 0
    async with s3_client(endpoint) as client:
        if scenario == "retr_big":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            began = time.perf_counter()
            got, crc = await retr_big(client, bucket, _key(prefix, BIG_FILE), size)
            seconds = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_SELF)
            corrupt = int(got != size or crc != payload.checksum(size))
        else:
            key = _key(prefix, f"{UPLOAD_DIR}/stor_big_direct.bin")
            parts = list(_payload_parts(size, 7)) if size <= 1024 * MiB else None  # made before the clock
            usage = resource.getrusage(resource.RUSAGE_SELF)
            began = time.perf_counter()
            await _multipart(client, bucket, key, iter(parts) if parts else _payload_parts(size, 7))
            seconds = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_SELF)
            head = await client.head_object(Bucket=bucket, Key=key)
            corrupt = int(head["ContentLength"] != size)
            await client.delete_object(Bucket=bucket, Key=key)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return {"metrics": {"MiB/s": size / MiB / seconds}, "errors": errors, "error_count": 0,
            "corrupt": corrupt, "server_cpu_pct": round(100 * cpu / seconds, 1),
            "loadgen_cpu_pct": 0.0, "seconds": round(seconds, 3)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.s3_direct", description=__doc__.split("\n")[0]
    )
    parser.add_argument("scenario", choices=["retr_big", "stor_big", "seed"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", default="aioftp")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--size-mib", type=float, default=512)
    parser.add_argument("--root", type=Path, help="seed: the folder whose files go into the bucket")
    parser.add_argument("--duration", type=float, default=120.0, help="time limit (s)")
    arguments, _unknown = parser.parse_known_args(argv)  # the runner's load-generator flags too
    if arguments.scenario == "seed":
        asyncio.run(seed(arguments.endpoint, arguments.bucket, arguments.prefix, arguments.root))
        return 0
    size = int(arguments.size_mib * MiB)

    async def bounded() -> dict[str, Any]:
        async with asyncio.timeout(arguments.duration):
            return await measure(
                arguments.scenario, arguments.endpoint, arguments.bucket, arguments.prefix, size
            )

    try:
        result = asyncio.run(bounded())
    except Exception as error:  # noqa: BLE001 - a failed request (botocore's errors are no OSErrors): counted, shown
        result = {"metrics": {}, "errors": {type(error).__name__: 1}, "error_count": 1, "corrupt": 0}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
