"""The S3 requests the backend makes, each under a timeout, with errors turned into OSErrors.

aiobotocore is imported here only, when an S3 storage is opened (`pip install "aioftp_lite[s3]"`).
A store that fails or does not answer becomes OSError(EIO, "Object store ...: reason"),
which the server answers with 451; a missing object becomes FileNotFoundError.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from contextlib import AsyncExitStack
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

# Error codes that mean the store refuses who we are, not the request.
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                               "ExpiredToken", "AuthorizationHeaderMalformed"})  # fmt: skip
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class StoreError(OSError):
    """The object store failed, refused our credentials or did not answer (451 in a session)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EIO, message)


def bucket_and_prefix(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX` -> (BUCKET, PREFIX); ValueError with a readable message otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"expected s3://BUCKET/PREFIX, got {url!r}")
    prefix = parts.path.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/") if prefix):
        raise ValueError(f"the prefix of {url!r} has an empty, '.' or '..' part")
    return parts.netloc, prefix


def key_for(prefix: str, path: PurePosixPath) -> str:
    """The object key of a virtual path under `prefix` ("" or ending in "/")."""
    parts = path.parts[1:]
    if not path.is_absolute() or any(part in ("", ".", "..") or "/" in part for part in parts):
        raise PermissionError(errno.EACCES, "Path leads outside the root")
    return prefix + "/".join(parts) if parts else prefix.rstrip("/")


def store_error(error: BaseException) -> OSError:
    """The OSError the server shows for a failed request."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND_CODES or (status == 404 and code != "NoSuchBucket"):
            return FileNotFoundError(errno.ENOENT, "No such file or directory")
        if code in _CREDENTIAL_CODES:
            return StoreError(f"Object store refused the credentials ({code})")
        if code == "NoSuchBucket":
            return StoreError(f"bucket {details.get('BucketName', '')!r} does not exist")
        message = details.get("Message") or code or f"HTTP {status}"
        return StoreError(f"Object store error: {message}")
    if type(error).__name__ == "NoCredentialsError":
        return StoreError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(error, TimeoutError):
        return StoreError("Object store did not answer in time")
    if isinstance(error, BotoCoreError):
        return StoreError(f"Object store unreachable: {error}")
    return StoreError(f"Object store unreachable: {error or type(error).__name__}")


class S3Client:
    """One aiobotocore client for a bucket, shared by every session of a server."""

    def __init__(self, client: Any, bucket: str, timeout: float, stack: AsyncExitStack) -> None:
        self._client, self.bucket, self.timeout, self._stack = client, bucket, timeout, stack
        # aiohttp's errors are OSErrors or its own ClientError; catching Exception here
        # would hide our bugs, so the set is explicit.
        import aiohttp
        from botocore.exceptions import BotoCoreError, ClientError

        self._failures: tuple[type[BaseException], ...] = (
            ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError, ValueError
        )  # fmt: skip

    @classmethod
    async def open(cls, bucket: str, endpoint: str | None, region: str | None, timeout: float) -> S3Client:
        try:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session
        except ImportError:
            raise StoreError('S3 storage needs aiobotocore: pip install "aioftp_lite[s3]"') from None
        # A read that stalls (a request lost on a pooled connection the store dropped) is
        # tried once more within the request's own budget: each attempt gets under half of it.
        config = AioConfig(
            connect_timeout=min(timeout, 5.0), read_timeout=timeout / 2.5, max_pool_connections=64,
            retries={"mode": "standard", "max_attempts": 2},
            s3={"addressing_style": "path"} if endpoint else {},
            # Our own data has no use for a CRC of every request: it costs CPU per byte.
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        )  # fmt: skip
        # botocore says at INFO where it found the credentials: not news for a server's log.
        for name in ("aiobotocore.credentials", "botocore.credentials"):
            logging.getLogger(name).setLevel(logging.WARNING)
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client("s3", endpoint_url=endpoint, region_name=region, config=config)
        )
        return cls(client, bucket, timeout, stack)

    async def close(self) -> None:
        await self._stack.aclose()

    async def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await getattr(self._client, operation)(Bucket=self.bucket, **arguments)
        except self._failures as error:
            raise store_error(error) from None

    async def check(self, prefix: str) -> None:
        """One listing: raises StoreError saying what is wrong (bucket, credentials, endpoint)."""
        try:
            await self.list_page(prefix.strip("/") + "/" if prefix.strip("/") else "", max_keys=1)
        except FileNotFoundError:
            raise StoreError(f"bucket {self.bucket!r} does not exist") from None

    # --- objects ----------------------------------------------------------------------
    async def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, None if there is no such object."""
        try:
            return await self._call("head_object", Key=key)  # type: ignore[no-any-return]
        except FileNotFoundError:
            return None

    async def list_page(
        self, prefix: str, delimiter: str = "", token: str | None = None, max_keys: int = 1000
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {"Prefix": prefix, "MaxKeys": max_keys}
        if delimiter:
            arguments["Delimiter"] = delimiter
        if token:
            arguments["ContinuationToken"] = token
        return await self._call("list_objects_v2", **arguments)  # type: ignore[no-any-return]

    async def put(self, key: str, data: bytes) -> None:
        await self._call("put_object", Key=key, Body=data)

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=key)

    async def copy(self, source_key: str, target_key: str) -> None:
        await self._call("copy_object", Key=target_key, CopySource={"Bucket": self.bucket, "Key": source_key})

    async def get_body(self, key: str, offset: int, etag: str | None) -> Any:
        arguments: dict[str, Any] = {"Key": key, "Range": f"bytes={offset}-"}
        if etag:
            arguments["IfMatch"] = etag
        return (await self._call("get_object", **arguments))["Body"]

    async def read_body(self, body: Any, size: int) -> bytes:
        """Up to `size` bytes of a GET's body; b"" at its end."""
        try:
            async with asyncio.timeout(self.timeout):
                return await body.read(size)  # type: ignore[no-any-return]
        except self._failures as error:
            raise store_error(error) from None

    async def read_full(self, body: Any, size: int) -> bytes:
        """`size` bytes of a GET's body (fewer only at its end, b"" there), under one timeout:
        the body arrives in pieces of whatever the socket had, often 64 KiB."""
        pieces: list[bytes] = []
        missing = size
        try:
            async with asyncio.timeout(self.timeout):
                while missing and (piece := await body.read(missing)):
                    pieces.append(piece)
                    missing -= len(piece)
        except self._failures as error:
            raise store_error(error) from None
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive) of an object, read whole: for small heads only."""
        body = (await self._call("get_object", Key=key, Range=f"bytes={start}-{end}"))["Body"]
        data = bytearray()
        try:
            while len(data) < end - start + 1:
                chunk = await self.read_body(body, end - start + 1 - len(data))
                if not chunk:
                    raise StoreError("Object store: a read ended early")
                data += chunk
        finally:
            body.close()
        return bytes(data)

    # --- multipart uploads --------------------------------------------------------------
    async def create_upload(self, key: str) -> str:
        return (await self._call("create_multipart_upload", Key=key))["UploadId"]  # type: ignore[no-any-return]

    async def upload_part(self, key: str, upload: str, number: int, data: bytes | bytearray) -> str:
        answer = await self._call("upload_part", Key=key, UploadId=upload, PartNumber=number, Body=data)
        return answer["ETag"]  # type: ignore[no-any-return]

    async def copy_part(
        self, key: str, upload: str, number: int, source_key: str, start: int, end: int
    ) -> str:
        answer = await self._call(
            "upload_part_copy", Key=key, UploadId=upload, PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source_key}, CopySourceRange=f"bytes={start}-{end}",
        )  # fmt: skip
        return answer["CopyPartResult"]["ETag"]  # type: ignore[no-any-return]

    async def complete_upload(self, key: str, upload: str, parts: list[tuple[int, str]]) -> None:
        await self._call(
            "complete_multipart_upload", Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
        )  # fmt: skip

    async def abort_upload(self, key: str, upload: str) -> None:
        """Give the upload up; never raises (the store drops stale uploads by its own rules)."""
        try:
            await self._call("abort_multipart_upload", Key=key, UploadId=upload)
        except OSError:
            pass

    async def uploads_in_progress(self, prefix: str = "") -> list[str]:
        """Keys with an unfinished multipart upload (for tests and clean-up)."""
        answer = await self._call("list_multipart_uploads", Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", ())]
