"""Graceful shutdown and the log file, against `python -m aioftp_lite serve` as a real process.

SIGTERM must: tell idle sessions 421 and close them, stop accepting, let running
transfers finish up to --shutdown-timeout, cut what is still running at the deadline
(an unfinished upload never lands under its final name), and exit with status 0.

The helpers (`ServerProcess`, `Wire`, in tests/support) are shared with test_faults.py and
test_fuzz.py: a server subprocess whose address is parsed from its first line, and a
raw blocking control connection that checks every reply with `ReplyParser`.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from aioftp_lite.protocol import Reply
from aioftp_lite.server.transfers.sendfile import SENDFILE_SLICE
from tests.support.control import SlowUpload, Wire
from tests.support.files import partial_files
from tests.support.processes import ServerProcess
from tests.support.threads import wait_until


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- graceful shutdown ---------------------------------------------------------------
MiB = 1024 * 1024
SHUTDOWN_TIMEOUT = 3.0


class SlowDownload(threading.Thread):
    """RETR read through a small receive buffer at `rate` bytes/s, at full speed once `hurry` is set."""

    def __init__(self, port: int, name: str, rate: int = 2 * MiB) -> None:
        super().__init__(daemon=True)
        self.wire = Wire(port, timeout=20)
        self.wire.login()
        self.wire.send("TYPE I")
        assert self.wire.final().code == 200
        self.data = self.wire.passive(receive_buffer=32 * 1024)
        self.wire.send(f"RETR {name}")
        assert self.wire.reply().code == 150
        self.rate = rate
        self.received = bytearray()
        self.hurry = threading.Event()
        self.replies: list[Reply] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            while chunk := self.data.recv(64 * 1024):
                self.received += chunk
                if not self.hurry.is_set():  # the rate holds however long each sleep really takes
                    time.sleep(max(0.0, started + len(self.received) / self.rate - time.monotonic()))
        except OSError as error:
            self.error = error
        finally:
            self.data.close()
            self.replies = self.wire.replies_until_closed()


def test_sigterm_drains_transfers_then_exits_zero(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    big = os.urandom(24 * MiB)  # far more than the socket buffers, so the transfer is really running
    (root / "big.bin").write_bytes(big)
    old = os.urandom(100_000)
    (root / "old.bin").write_bytes(old)
    log_file = tmp_path / "ftp.log"
    with ServerProcess(root, tmp_path / "stderr.log", "--shutdown-timeout", str(SHUTDOWN_TIMEOUT),
                       "--log-file", str(log_file)) as server:  # fmt: skip
        idle = Wire(server.port)
        idle.login()
        finishing = SlowDownload(server.port, "big.bin")  # speeds up after SIGTERM: finishes in time
        lingering = SlowDownload(server.port, "big.bin")  # never speeds up: cut at the deadline
        replacing = SlowUpload(server.port, "old.bin")  # over an existing file
        creating = SlowUpload(server.port, "fresh.bin")  # under a new name
        workers = [finishing, lingering, replacing, creating]
        for worker in workers:
            worker.start()
        assert wait_until(lambda: len(finishing.received) > MiB and replacing.sent > 64 * 1024, 10)
        assert len(partial_files(root)) == 2  # both uploads are writing their temporary files

        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        idle_replies = idle.replies_until_closed()
        assert [r.code for r in idle_replies] == [421], idle_replies
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()

        time.sleep(0.5)  # the transfers keep running after SIGTERM ...
        assert finishing.is_alive() and replacing.is_alive()
        finishing.hurry.set()  # ... and this one now finishes well inside the timeout
        finishing.join(SHUTDOWN_TIMEOUT)
        assert not finishing.is_alive()
        assert time.monotonic() - signalled < SHUTDOWN_TIMEOUT
        assert finishing.error is None
        assert sha256(finishing.received) == sha256(big)
        assert [r.code for r in finishing.replies] == [226, 421], finishing.replies

        status = server.wait(SHUTDOWN_TIMEOUT + 10)
        stopped_after = time.monotonic() - signalled
        for worker in workers:
            worker.join(10)
            assert not worker.is_alive()
        idle.close()

    assert status == 0, server.log_text()
    assert SHUTDOWN_TIMEOUT - 0.5 < stopped_after < SHUTDOWN_TIMEOUT + 5
    # Cut at the deadline: the slow download is incomplete and told so (or just closed).
    assert len(lingering.received) < len(big)
    assert [r.code for r in lingering.replies][:1] == [426], lingering.replies
    for upload in (replacing, creating):
        assert upload.cut, "the server must cut an upload still running at the deadline"
        assert [r.code for r in upload.replies][:1] == [426], upload.replies
    assert (root / "old.bin").read_bytes() == old  # the old file is intact
    assert not (root / "fresh.bin").exists()  # nothing under the final name
    assert partial_files(root) == []  # and the temporary files are gone
    assert sorted(p.name for p in root.iterdir()) == ["big.bin", "old.bin"]
    log = log_file.read_text()
    assert "Traceback" not in log and " ERROR " not in log, log

    # One line per transfer, with the bytes moved even when the transfer was cut.
    def logged_bytes(label: str, result: str) -> list[int]:
        return [int(n) for n in re.findall(rf"anonymous {label}: (\d+) bytes in [\d.]+s, {result}", log)]

    assert logged_bytes("RETR /big.bin", "226 ") == [len(big)]
    [cut_download] = logged_bytes("RETR /big.bin", "426 Transfer aborted")
    # Zero-copy downloads are counted per slice: the count may trail what arrived by one slice.
    assert 0 < cut_download < len(big)
    assert len(lingering.received) - SENDFILE_SLICE <= cut_download
    for upload in (replacing, creating):
        [cut_upload] = logged_bytes(f"STOR /{upload.name}", "426 Transfer aborted")
        assert 0 < cut_upload <= upload.sent


def test_sigterm_with_only_idle_sessions_exits_at_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with ServerProcess(root, tmp_path / "stderr.log", "--shutdown-timeout", "30") as server:
        sessions = [Wire(server.port) for _ in range(5)]
        sessions[0].login()
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        for session in sessions:
            assert [r.code for r in session.replies_until_closed()] == [421]
            session.close()
        assert server.wait(10) == 0
        assert time.monotonic() - signalled < 3  # idle sessions do not wait for the timeout


# --- the log file --------------------------------------------------------------------
def test_log_file_has_one_line_per_event_and_never_a_password(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = "Pw-" + os.urandom(6).hex()
    wrong = "Wrong-" + os.urandom(6).hex()
    payload = os.urandom(300_000)
    log_file = tmp_path / "ftp.log"
    flags = ["--user", f"carol:{secret}", "--log-file", str(log_file), "--log-level", "debug"]
    with ServerProcess(root, tmp_path / "stderr.log", *flags) as server:
        wire = Wire(server.port)
        local_port = wire.sock.getsockname()[1]
        assert wire.command("USER carol").code == 331
        assert wire.command(f"PASS {wrong}").code == 530
        wire.login("carol", secret)
        assert wire.command("TYPE I").code == 200
        data = wire.passive()
        wire.send("STOR up.bin")
        assert wire.reply().code == 150
        data.sendall(payload)
        data.close()
        assert wire.final().code == 226
        data = wire.passive()
        wire.send("RETR missing.bin")
        assert wire.final().code == 550
        data.close()
        data = wire.passive()
        wire.send("RETR up.bin")
        received = bytearray()
        while chunk := data.recv(65536):
            received += chunk
        data.close()
        assert wire.final().code == 226 and bytes(received) == payload
        assert wire.command("MKD docs").code == 257
        assert wire.command("RNFR up.bin").code == 350
        assert wire.command("RNTO docs/up.bin").code == 250
        assert wire.command("DELE docs/up.bin").code == 250
        assert wire.command("RMD nope").code == 550
        assert wire.command("PWD").code == 257  # changes nothing: no line at INFO
        assert wire.command("QUIT").code == 221
        wire.close()
        server.signal(signal.SIGTERM)
        assert server.wait(10) == 0
    text = log_file.read_text()
    stderr_text = server.log_text()
    for where in (text, stderr_text):
        assert secret not in where and wrong not in where
    peer = f"127.0.0.1:{local_port}"
    lines = [line for line in text.splitlines() if peer in line]
    assert len([line for line in lines if line.endswith(f"{peer} connected")]) == 1
    assert any(f"{peer} failed login as 'carol'" in line for line in lines)
    assert any(f"{peer} logged in as carol" in line for line in lines)
    assert any(f"{peer} PASS ****" in line for line in lines)  # debug level: the command, masked
    stor = [line for line in lines if f"carol STOR /up.bin: {len(payload)} bytes in " in line]
    retr = [line for line in lines if f"carol RETR /up.bin: {len(payload)} bytes in " in line]
    assert len(stor) == 1 and len(retr) == 1, lines
    for line in stor + retr:
        assert re.search(r" bytes in \d+\.\d{3}s, 226 ", line), line  # duration and result
    # File commands that did not start a transfer: one line each, with the reply.
    events = [
        "RETR missing.bin: 550 No such file or directory",
        'MKD docs: 257 "/docs" created',
        "RNFR up.bin: 350 Ready for the new name (RNTO)",
        "RNTO docs/up.bin: 250 Renamed /up.bin to /docs/up.bin",
        "DELE docs/up.bin: 250 File /docs/up.bin deleted",
        "RMD nope: 550 No such file or directory",
    ]
    for event in events:
        assert len([line for line in lines if line.endswith(f"{peer} carol {event}")]) == 1, (event, lines)
    assert not [line for line in lines if " INFO " in line and "PWD" in line]
    assert len([line for line in lines if line.endswith(f"{peer} carol disconnected")]) == 1
    assert "stopping: no new connections" in text
