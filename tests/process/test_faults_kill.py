"""`kill -9` mid-upload: a restarted server (or worker) removes the partial files, and only its own."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from tests.support.control import SlowUpload, Wire, download
from tests.support.files import partial_files
from tests.support.processes import ServerProcess
from tests.support.threads import wait_until

MiB = 1024 * 1024


# --- kill -9 -------------------------------------------------------------------------
def test_kill_9_mid_upload_then_restart_removes_partial_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    olds = {name: os.urandom(50_000) for name in ("old1.bin", "sub/old2.bin")}
    for name, content in olds.items():
        (root / name).write_bytes(content)
    news = ["new1.bin", "sub/new2.bin"]
    log_path = tmp_path / "stderr.log"
    server = ServerProcess(root, log_path)
    server.start()
    try:
        uploads = [SlowUpload(server.port, name) for name in [*olds, *news]]
        for worker in uploads:
            worker.start()
        # Every upload has written data into its temporary file.
        assert wait_until(lambda: len([p for p in partial_files(root) if p.stat().st_size > 0]) == 4, 10)
        server.signal(signal.SIGKILL)
        assert server.wait(10) == -signal.SIGKILL
        for worker in uploads:
            worker.join(10)
            assert worker.cut and not worker.is_alive()
        strays = partial_files(root)
        assert len(strays) == 4, strays  # a crash leaves them behind ...
        assert {p.parent for p in strays} == {root, root / "sub"}
        for name, content in olds.items():
            assert (root / name).read_bytes() == content  # ... but never under a final name
        for name in news:
            assert not (root / name).exists()

        server.start()  # the restart removes them before it accepts anyone
        assert partial_files(root) == []
        assert server.log_text().count("removed a partial upload left by an earlier run") == 4
        for name, content in olds.items():
            assert (root / name).read_bytes() == content
        for name in news:
            assert not (root / name).exists()
        wire = Wire(server.port)
        wire.login()
        assert wire.command("TYPE I").code == 200
        assert download(wire, "sub/old2.bin") == olds["sub/old2.bin"]
        wire.close()
        server.signal(signal.SIGTERM)
        assert server.wait(10) == 0
    finally:
        server.kill()


def test_a_restarted_worker_leaves_uploads_of_the_others_alone(tmp_path: Path) -> None:
    """`--workers 2`: a worker that dies is restarted, and its start-up clean-up must not
    take the temporary file of an upload that another, living worker is receiving."""
    root = tmp_path / "root"
    root.mkdir()
    log_path = tmp_path / "stderr.log"
    with ServerProcess(root, log_path, "--workers", "2") as server:
        assert wait_until(lambda: server.log_text().count("serving on") >= 2, 15), server.log_text()
        wire = Wire(server.port)
        wire.login()
        assert wire.command("TYPE I").code == 200
        data = wire.passive()
        wire.send("STOR big.bin")
        assert wire.reply().code == 150
        first, second = os.urandom(MiB), os.urandom(MiB)
        data.sendall(first)
        assert wait_until(lambda: [p.stat().st_size for p in partial_files(root)] == [MiB], 10)
        [temporary] = partial_files(root)
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        receiving = [w for w in workers if any(f.path == str(temporary) for f in w.open_files())]
        [idle_worker] = [w for w in workers if w not in receiving]
        idle_worker.kill()
        assert wait_until(lambda: server.log_text().count("serving on") >= 3, 15), server.log_text()
        data.sendall(second)
        data.close()
        reply = wire.final()
        wire.close()
    assert reply.code == 226, reply
    assert (root / "big.bin").read_bytes() == first + second
    assert partial_files(root) == []
