"""A backend's own names stay the backend's: the local disk hides and reserves the names of
its uploads in progress itself; the generic server filters nothing by name."""

from __future__ import annotations

import ast
import io
from pathlib import Path, PurePosixPath

from aioftp_lite import LocalStorage, MemoryStorage, Server
from aioftp_lite.storage.local import PARTIAL_SUFFIX
from tests.support.clients import connect_ftplib
from tests.support.threads import in_thread

SERVER = Path(__file__).resolve().parents[2] / "aioftp_lite" / "server"


async def test_the_local_backend_hides_every_name_of_an_upload_in_progress(tmp_path: Path) -> None:
    for name in ("a.txt", f".a.txt.0123{PARTIAL_SUFFIX}", f"visible{PARTIAL_SUFFIX}"):
        (tmp_path / name).write_text("x")
    storage = LocalStorage(tmp_path)
    assert [e.name for e in await storage.list_dir(PurePosixPath("/"))] == ["a.txt"]
    assert storage.reserved_name(f"b{PARTIAL_SUFFIX}") is not None
    assert storage.reserved_name("b.txt") is None


async def test_another_backend_lists_and_stores_such_names_as_any_other() -> None:
    storage = MemoryStorage()
    name = f"report{PARTIAL_SUFFIX}"

    def session(port: int) -> list[str]:
        client = connect_ftplib(port)
        client.storbinary(f"STOR {name}", io.BytesIO(b"data"))
        names = client.nlst()
        client.quit()
        return names

    async with Server(host="127.0.0.1", port=0, storage_factory=lambda _account: storage) as server:
        assert await in_thread(lambda: session(server.port)) == [name]


def test_the_server_package_names_no_backend() -> None:
    """No module of the generic server imports a particular backend or its names."""
    found = []
    for path in sorted(SERVER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[-1] in ("local", "memory")
            ):
                found.append(f"{path.relative_to(SERVER)}:{node.lineno} from {node.module}")
            if isinstance(node, ast.Name) and node.id in ("LocalStorage", "PARTIAL_SUFFIX"):
                found.append(f"{path.relative_to(SERVER)}:{node.lineno} {node.id}")
    assert not found, found
