"""Issue 12, point 10: an upload acknowledged with 226 is on the disk.

Checked on the server's real system calls (strace): for a STOR, the temporary file is
fsynced, then renamed over the final name, then its folder is fsynced, and only then is
the 226 sent; APPE fsyncs the file it appended to. With --no-fsync there is no fsync.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest

from aioftp_lite.storage.local import PARTIAL_SUFFIX
from tests.support.clients import connect_ftplib
from tests.support.processes import server_process
from tests.support.threads import in_thread

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")

SYSCALLS = "fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg"


def _traced_uploads(root: Path, tmp_path: Path, *options: str) -> list[str]:
    """The server's fsync, rename and send calls (file names shown) while a client STORs
    and then APPEs; returns the trace, one call per line, in order."""
    log = tmp_path / "strace.log"
    strace = ["strace", "-f", "-qq", "-y", "-s", "64", "-e", "signal=none", "-e", f"trace={SYSCALLS}",
              "-o", str(log)]  # fmt: skip

    def session(port: int) -> None:
        client = connect_ftplib(port, timeout=30)
        client.voidcmd("TYPE I")
        client.storbinary("STOR upload.bin", io.BytesIO(os.urandom(200_000)))
        client.storbinary("APPE upload.bin", io.BytesIO(b"appended"))
        client.quit()

    with server_process(root, *options, wrapper=strace) as port:
        session(port)
    return _joined(log.read_text().splitlines())


def _joined(lines: list[str]) -> list[str]:
    """strace -f splits a call that another thread interrupted into `<unfinished ...>` and
    `<... resumed>` lines: join them, placed where the call returned."""
    started: dict[str, str] = {}
    calls = []
    for line in lines:
        pid, _, call = line.partition(" ")
        call = call.strip()
        if call.endswith("<unfinished ...>"):
            started[pid] = call.removesuffix("<unfinished ...>")
        elif call.startswith("<..."):
            calls.append(started.pop(pid, "") + call.split("resumed>", 1)[1])
        else:
            calls.append(call)
    return calls


def _index(calls: list[str], pattern: str, start: int = 0) -> int:
    for number, call in enumerate(calls[start:], start):
        if re.search(pattern, call):
            return number
    raise AssertionError(f"no call matching {pattern!r} after call {start} in:\n" + "\n".join(calls[start:]))


async def test_stor_fsyncs_the_file_then_renames_then_fsyncs_the_folder_before_the_226(
    root: Path, tmp_path: Path
) -> None:
    calls = await in_thread(lambda: _traced_uploads(root, tmp_path), timeout=60)
    folder = re.escape(str(root))
    partial = rf"{folder}/\.[0-9a-f]+{re.escape(PARTIAL_SUFFIX)}"
    file_synced = _index(calls, rf"^f(data)?sync\(\d+<{partial}>\) = 0")
    renamed = _index(
        calls,
        rf"^rename(at2?)?\(.*\"\.[0-9a-f]+{re.escape(PARTIAL_SUFFIX)}\".*\"upload\.bin\".*= 0",
        file_synced,
    )
    folder_synced = _index(calls, rf"^f(data)?sync\(\d+<{folder}>\) = 0", renamed)
    acknowledged = _index(calls, r"^(write|writev|sendto|sendmsg)\(.*226 ", folder_synced)
    appended_synced = _index(calls, rf"^f(data)?sync\(\d+<{folder}/upload\.bin>\) = 0", acknowledged)
    _index(calls, r"^(write|writev|sendto|sendmsg)\(.*226 ", appended_synced)
    assert (root / "upload.bin").stat().st_size == 200_000 + len(b"appended")


async def test_no_fsync_for_a_scratch_server(root: Path, tmp_path: Path) -> None:
    calls = await in_thread(lambda: _traced_uploads(root, tmp_path, "--no-fsync"), timeout=60)
    assert [call for call in calls if re.match(r"f(data)?sync\(", call)] == []
    assert sum(bool(re.search(r"226 ", call)) for call in calls) == 2  # both uploads went through
    assert (root / "upload.bin").stat().st_size == 200_000 + len(b"appended")
