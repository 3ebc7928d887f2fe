"""obstore against aiobotocore on the S3 operations the storage backend needs.

    python -m benchmarks.s3_clients [--small 400] [--big-mib 256] [--endpoint URL --bucket B]

Without --endpoint a throw-away SeaweedFS is started (benchmarks/seaweedfs.py). Both
clients run on the same store, one after the other, each with its own keys:

    small_put / small_get / head / list   requests per second, 16 in flight, 4 KiB objects
    multipart_put                         MiB/s, a stream of 8 MiB parts, at most 2 in flight
    ranged_get                            MiB/s, one object read by a streamed ranged GET
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .seaweedfs import SeaweedFS

MiB = 1024 * 1024
PART = 8 * MiB
IN_FLIGHT = 16
SMALL = 4096


async def _many(count: int, operation: Callable[[int], Awaitable[object]]) -> float:
    """Requests per second of `count` calls, IN_FLIGHT at a time."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            await operation(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count / (time.perf_counter() - started)


def _mib_per_s(size: int, seconds: float) -> float:
    return size / MiB / seconds


async def bench_obstore(endpoint: str, bucket: str, small: int, big: int) -> dict[str, float]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket, endpoint=endpoint, region=os.environ.get("AWS_REGION", "us-east-1"),
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"], secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        client_options={"allow_http": True},
    )  # fmt: skip
    payload = os.urandom(SMALL)
    out = {
        "small_put": await _many(small, lambda i: obstore.put_async(store, f"ob/small/{i}", payload)),
        "small_get": await _many(small, lambda i: _ob_get(store, f"ob/small/{i}")),
        "head": await _many(small, lambda i: obstore.head_async(store, f"ob/small/{i}")),
        "list": await _many(
            max(small // 10, 10), lambda _i: obstore.list_with_delimiter_async(store, "ob/small/")
        ),
    }
    block = os.urandom(PART)
    started = time.perf_counter()
    writer = obstore.open_writer_async(store, "ob/big", buffer_size=PART, max_concurrency=2)
    for _ in range(big // PART):
        await writer.write(block)
    await writer.close()
    out["multipart_put"] = _mib_per_s(big, time.perf_counter() - started)
    started = time.perf_counter()
    result = await obstore.get_async(store, "ob/big", options={"range": (0, big)})
    received = 0
    async for chunk in result.stream(min_chunk_size=256 * 1024):
        received += len(chunk)
    assert received == big
    out["ranged_get"] = _mib_per_s(big, time.perf_counter() - started)
    return out


async def _ob_get(store: Any, key: str) -> bytes:
    import obstore

    result = await obstore.get_async(store, key)
    return bytes(await result.bytes_async())


async def bench_aiobotocore(endpoint: str, bucket: str, small: int, big: int) -> dict[str, float]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        max_pool_connections=IN_FLIGHT * 2, s3={"addressing_style": "path"},
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )  # fmt: skip
    async with get_session().create_client("s3", endpoint_url=endpoint, config=config) as client:
        payload = os.urandom(SMALL)

        async def get(i: int) -> bytes:
            response = await client.get_object(Bucket=bucket, Key=f"bc/small/{i}")
            async with response["Body"] as body:
                return await body.read()  # type: ignore[no-any-return]

        out = {
            "small_put": await _many(small, lambda i: client.put_object(Bucket=bucket, Key=f"bc/small/{i}", Body=payload)),
            "small_get": await _many(small, get),
            "head": await _many(small, lambda i: client.head_object(Bucket=bucket, Key=f"bc/small/{i}")),
            "list": await _many(max(small // 10, 10), lambda _i: client.list_objects_v2(
                Bucket=bucket, Prefix="bc/small/", Delimiter="/")),
        }  # fmt: skip
        block = os.urandom(PART)
        started = time.perf_counter()
        upload = await client.create_multipart_upload(Bucket=bucket, Key="bc/big")
        upload_id = upload["UploadId"]
        in_flight: set[asyncio.Task[Any]] = set()
        parts: dict[int, str] = {}

        async def send(number: int) -> None:
            answer = await client.upload_part(
                Bucket=bucket, Key="bc/big", UploadId=upload_id, PartNumber=number, Body=block
            )
            parts[number] = answer["ETag"]

        for number in range(1, big // PART + 1):
            if len(in_flight) >= 2:
                _done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            in_flight.add(asyncio.create_task(send(number)))
        await asyncio.gather(*in_flight)
        await client.complete_multipart_upload(
            Bucket=bucket, Key="bc/big", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
        )  # fmt: skip
        out["multipart_put"] = _mib_per_s(big, time.perf_counter() - started)
        started = time.perf_counter()
        response = await client.get_object(Bucket=bucket, Key="bc/big", Range=f"bytes=0-{big - 1}")
        received = 0
        async with response["Body"] as body:
            while chunk := await body.read(256 * 1024):
                received += len(chunk)
        assert received == big
        out["ranged_get"] = _mib_per_s(big, time.perf_counter() - started)
        return out


async def run(endpoint: str, bucket: str, small: int, big: int) -> dict[str, dict[str, float]]:
    return {
        "obstore": await bench_obstore(endpoint, bucket, small, big),
        "aiobotocore": await bench_aiobotocore(endpoint, bucket, small, big),
    }


def report(results: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(results.values())))
    units = {"multipart_put": "MiB/s", "ranged_get": "MiB/s"}
    lines = [f"{'operation':<15}{'obstore':>12}{'aiobotocore':>14}{'ratio':>8}"]
    for name in names:
        first, second = results["obstore"][name], results["aiobotocore"][name]
        unit = units.get(name, "req/s")
        lines.append(f"{name + ' ' + unit:<15}{first:>12.0f}{second:>14.0f}{first / second:>8.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=400, help="small objects per operation")
    parser.add_argument("--big-mib", type=int, default=256, help="size of the big object (MiB)")
    parser.add_argument("--endpoint", help="an S3 endpoint (default: start a SeaweedFS)")
    parser.add_argument("--bucket", default="aioftp")
    arguments = parser.parse_args()
    big = max(arguments.big_mib * MiB // PART, 1) * PART
    if arguments.endpoint:
        results = asyncio.run(run(arguments.endpoint, arguments.bucket, arguments.small, big))
    else:
        with tempfile.TemporaryDirectory() as folder, SeaweedFS(Path(folder), (arguments.bucket,)) as store:
            os.environ.update(store.environment())
            results = asyncio.run(run(store.endpoint, arguments.bucket, arguments.small, big))
    print(report(results))


if __name__ == "__main__":
    main()
