"""Issue 12 points 5 and 6: STOU names are unique at once, for overlapping uploads too,
and picking one costs the same with 600 files in the folder as with none."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import re
import threading
import time
from pathlib import Path, PurePosixPath

from aioftp_lite import Server
from aioftp_lite.storage.local import LocalStorage
from tests.support.control import RawControl
from tests.support.threads import in_thread


def _name_in(opening_line: str) -> str:
    match = re.fullmatch(r"150 FILE: (.+)", opening_line)  # RFC 1123 4.1.2.9
    assert match, opening_line
    return match[1]


async def test_overlapping_stous_get_distinct_names_and_keep_every_upload(server: Server, root: Path) -> None:
    """Four clients each get their 150 before any of them sends a byte; all four files arrive."""
    clients = 4
    everyone_opened = threading.Barrier(clients, timeout=10)
    payloads = [os.urandom(256 * 1024 + n) for n in range(clients)]

    def upload(payload: bytes, argument: str) -> str:
        control = RawControl(server.port)
        try:
            control.login()
            assert control.command("TYPE I").code == 200
            data = control.open_epsv()
            opening = control.command(f"STOU {argument}".strip())
            assert opening.code == 150, opening
            everyone_opened.wait()
            data.sendall(payload)
            data.close()
            assert control.read_reply().code == 226
            return _name_in(opening.lines[0])
        finally:
            control.close()

    async def run(index: int) -> str:
        return await in_thread(lambda: upload(payloads[index], "" if index % 2 else "report.txt"))

    names = await asyncio.gather(*(run(index) for index in range(clients)))
    assert len(set(names)) == clients, names
    for name, payload in zip(names, payloads, strict=True):
        assert hashlib.sha256((root / name).read_bytes()).digest() == hashlib.sha256(payload).digest(), name
    assert sorted(p.name for p in root.iterdir()) == sorted(names)
    reports = [name for name in names if name.startswith("report.")]
    assert len(reports) == 2 and all(name.endswith(".txt") for name in reports), names  # the extension stays


class CountingStorage(LocalStorage):
    """The real local backend, counting the metadata look-ups a command makes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.lookups: collections.Counter[str] = collections.Counter()

    async def stat(self, path: PurePosixPath):  # type: ignore[no-untyped-def]
        self.lookups["stat"] += 1
        return await super().stat(path)

    async def exists(self, path: PurePosixPath) -> bool:
        self.lookups["exists"] += 1
        return await super().exists(path)

    async def list_dir(self, path: PurePosixPath):  # type: ignore[no-untyped-def]
        self.lookups["list_dir"] += 1
        return await super().list_dir(path)


async def test_600_stous_in_a_row_cost_the_same_each(root: Path) -> None:
    storage = CountingStorage(root)
    rounds = 600
    async with Server(
        root=root, host="127.0.0.1", port=0, storage_factory=lambda _account: storage
    ) as server:

        def session() -> tuple[list[str], list[int], list[float]]:
            control = RawControl(server.port)
            names, lookups, seconds = [], [], []
            try:
                control.login()
                assert control.command("TYPE I").code == 200
                for number in range(rounds):
                    before, started = sum(storage.lookups.values()), time.perf_counter()
                    data = control.open_epsv()
                    opening = control.command("STOU")
                    assert opening.code == 150, opening
                    data.sendall(b"%d" % number)
                    data.close()
                    assert control.read_reply().code == 226
                    seconds.append(time.perf_counter() - started)
                    lookups.append(sum(storage.lookups.values()) - before)
                    names.append(_name_in(opening.lines[0]))
            finally:
                control.close()
            return names, lookups, seconds

        names, lookups, seconds = await in_thread(session, timeout=120)
    assert len(set(names)) == rounds
    assert len(set(lookups)) == 1, f"look-ups per STOU grew: first {lookups[:3]}, last {lookups[-3:]}"
    assert sorted(p.name for p in root.iterdir()) == sorted(names)
    assert (root / names[-1]).read_bytes() == b"%d" % (rounds - 1)
    print(f"\n{lookups[0]} storage look-ups per STOU; first 100 STOUs {sum(seconds[:100]):.3f}s, "
          f"last 100 {sum(seconds[-100:]):.3f}s")  # fmt: skip
