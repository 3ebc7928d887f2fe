"""Issue 12, point 7: any name the file system accepts can be uploaded, atomically.

The hidden temporary file an upload writes into has a name of its own fixed length, so
a final name of 255 bytes (ext4's and most file systems' limit) fits; a name of 256 bytes
gets 553 and creates nothing. Temporary files stay hidden from listings and a crash's
leftovers are still removed when the server starts again.
"""

from __future__ import annotations

import ftplib
import io
import os
import time
from pathlib import Path

from aioftp_lite import Server
from aioftp_lite.storage.local import PARTIAL_SUFFIX
from tests.support.clients import connect_ftplib
from tests.support.processes import server_process
from tests.support.threads import in_thread

NAME_MAX = 255
ASCII_255 = "a" * (NAME_MAX - 4) + ".txt"
UTF8_255 = "é" * 127 + "x"  # 254 + 1 bytes in UTF-8
ASCII_256 = "b" * (NAME_MAX - 3) + ".txt"


def _reply(action: object) -> str:
    try:
        return str(action())[:3]  # type: ignore[operator]
    except ftplib.Error as error:
        return str(error)[:3]


async def test_names_of_255_bytes_upload_and_256_bytes_get_553(server: Server, root: Path) -> None:
    assert len(ASCII_255.encode()) == len(UTF8_255.encode()) == NAME_MAX and len(ASCII_256) == NAME_MAX + 1
    payload = os.urandom(300_000)
    (root / UTF8_255).write_bytes(b"old content")

    def session() -> dict[str, object]:
        client = connect_ftplib(server.port)
        client.voidcmd("TYPE I")
        seen: dict[str, object] = {
            "STOR 255": _reply(lambda: client.storbinary(f"STOR {ASCII_255}", io.BytesIO(payload))),
            "STOR 255 over a file": _reply(
                lambda: client.storbinary(f"STOR {UTF8_255}", io.BytesIO(payload))
            ),
            "APPE 255": _reply(lambda: client.storbinary(f"APPE {UTF8_255}", io.BytesIO(b"tail"))),
            "STOR 256": _reply(lambda: client.storbinary(f"STOR {ASCII_256}", io.BytesIO(payload))),
            "APPE 256": _reply(lambda: client.storbinary(f"APPE {ASCII_256}", io.BytesIO(payload))),
            "MKD 256": _reply(lambda: client.mkd(ASCII_256)),
        }
        data = io.BytesIO()
        client.retrbinary(f"RETR {ASCII_255}", data.write)
        seen["RETR 255"] = data.getvalue()
        seen["names"] = sorted(client.nlst())
        client.quit()
        return seen

    seen = await in_thread(session)
    assert seen["STOR 255"] == seen["STOR 255 over a file"] == seen["APPE 255"] == "226", seen
    assert seen["STOR 256"] == seen["APPE 256"] == seen["MKD 256"] == "553", seen
    assert seen["RETR 255"] == payload and (root / UTF8_255).read_bytes() == payload + b"tail"
    assert seen["names"] == sorted([ASCII_255, UTF8_255])
    assert sorted(os.listdir(root)) == sorted([ASCII_255, UTF8_255])  # no temporary file left


def test_a_long_names_upload_is_hidden_while_it_runs_and_its_leftover_removed_after_a_crash(
    root: Path,
) -> None:
    """The server process is killed in the middle of an upload; the next start removes
    the temporary file (its lock died with the process)."""
    (root / "keep.txt").write_bytes(b"keep")
    with server_process(root) as port:
        client = connect_ftplib(port)
        client.voidcmd("TYPE I")
        channel = client.transfercmd(f"STOR {ASCII_255}")
        channel.sendall(os.urandom(2 * 1024 * 1024))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(os.listdir(root)) < 2:
            time.sleep(0.02)
        [partial] = [name for name in os.listdir(root) if name != "keep.txt"]
        observer = connect_ftplib(port)
        listed = sorted(observer.nlst())
        observer.close()
    # server_process killed the server (SIGKILL): it had no chance to clean up.
    channel.close()
    client.close()
    assert partial.startswith(".") and partial.endswith(PARTIAL_SUFFIX) and len(partial.encode()) < 64
    assert listed == ["keep.txt"]
    assert (root / partial).exists()  # left behind by the killed process
    with server_process(root):
        pass  # clean-up happens before it listens
    assert sorted(os.listdir(root)) == ["keep.txt"]
