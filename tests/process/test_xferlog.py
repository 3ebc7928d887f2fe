"""--xferlog (xferlog(5) lines, read back with the field grammar the log readers use),
--log-format json, and both files reopened on SIGHUP after a logrotate-style rename."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER, connect_ftplib
from tests.support.threads import in_thread

# xferlog(5), field by field, as fail2ban's and AWStats' xferlog formats read it.
XFERLOG = re.compile(
    r"^(?P<time>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[ \d]\d \d\d:\d\d:\d\d \d{4}) "
    r"(?P<seconds>\d+) (?P<host>\S+) (?P<size>\d+) (?P<filename>\S+) (?P<type>[ab]) (?P<action>[CUT_]+) "
    r"(?P<direction>[oid]) (?P<mode>[agr]) (?P<user>\S+) (?P<service>\S+) (?P<auth>[01]) (?P<auth_user>\S+) "
    r"(?P<status>[ci])$"
)


def fields(line: str) -> dict[str, str]:
    match = XFERLOG.match(line)
    assert match, f"not an xferlog line: {line!r}"
    return match.groupdict()


async def test_each_finished_transfer_writes_one_xferlog_line(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "xferlog"
    (root / "notes.txt").write_bytes(b"one\ntwo\n")

    def session(port: int) -> None:
        named = connect_ftplib(port, USER, PASSWORD)
        named.storbinary("STOR my file.bin", io.BytesIO(b"z" * 4096))
        named.retrlines("RETR notes.txt", lambda _line: None)  # TYPE A
        named.retrlines("LIST", lambda _line: None)  # a listing: no xferlog line
        named.quit()
        anonymous = connect_ftplib(port)
        anonymous.retrbinary("RETR notes.txt", lambda _data: None)
        with anonymous.transfercmd("STOR cut.bin") as data:  # cut: an incomplete transfer
            data.sendall(b"q" * 1000)
        anonymous.sock.close()

    async with Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, anonymous="write",
                      xferlog=log) as server:  # fmt: skip
        await in_thread(lambda: session(server.port))
        deadline = time.monotonic() + 10
        while len(log.read_text().splitlines()) < 4:
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.05)
    lines = [fields(line) for line in log.read_text().splitlines()]
    picked = [
        (f["filename"], f["size"], f["type"], f["direction"], f["mode"], f["user"], f["status"])
        for f in lines
    ]
    assert picked == [
        ("/my_file.bin", "4096", "b", "i", "r", USER, "c"),
        ("/notes.txt", "8", "a", "o", "r", USER, "c"),  # the file's bytes, not the CRLF sent
        ("/notes.txt", "8", "b", "o", "a", "anonymous", "c"),
        ("/cut.bin", "1000", "b", "i", "a", "anonymous", "i"),
    ]
    assert all((f["host"], f["service"], f["auth"], f["auth_user"], f["action"]) ==
               ("127.0.0.1", "ftp", "0", "*", "_") for f in lines)  # fmt: skip
    assert not (root / "cut.bin").exists()


async def test_log_files_reopen_on_sighup_and_json_lines_carry_the_transfer(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    xferlog, log = tmp_path / "xferlog", tmp_path / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0", "--anonymous-write",
         "--xferlog", str(xferlog), "--log-file", str(log), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await in_thread(process.stdout.readline, timeout=20)
        match = re.search(r"ftp://127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match[1])

        def put(name: str) -> None:
            client = connect_ftplib(port)
            client.storbinary(f"STOR {name}", io.BytesIO(b"data"))
            client.quit()

        async def lines_in(path: Path, count: int) -> list[str]:
            deadline = time.monotonic() + 10
            while len(found := (path.read_text().splitlines() if path.exists() else [])) < count:
                assert time.monotonic() < deadline, found
                await asyncio.sleep(0.05)
            return found

        await in_thread(lambda: put("before.bin"))
        await lines_in(xferlog, 1)
        xferlog.rename(tmp_path / "xferlog.1")  # as logrotate does
        log.rename(tmp_path / "server.log.1")
        process.send_signal(signal.SIGHUP)
        await lines_in(log, 1)  # the reload's own line: the new file is open
        await in_thread(lambda: put("after.bin"))
        rotated = (tmp_path / "xferlog.1").read_text().splitlines()
        fresh = await lines_in(xferlog, 1)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert [fields(line)["filename"] for line in rotated] == ["/before.bin"]
    assert [fields(line)["filename"] for line in fresh] == ["/after.bin"]
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line one object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    transfer = next(record for record in records if record.get("verb") == "STOR")
    assert (transfer["path"], transfer["size"], transfer["user"], transfer["result"]) == (
        "/after.bin",
        4,
        "anonymous",
        "ok",
    )
    assert transfer["logger"] == "aioftp_lite.session" and transfer["client"] == "127.0.0.1"
    old = [json.loads(line) for line in (tmp_path / "server.log.1").read_text().splitlines()]
    assert any(record.get("path") == "/before.bin" for record in old)
