"""Faults: a full disk, a file-size limit, clients that vanish mid-transfer, `kill -9`.

Whatever fails, a stored file is never lost or corrupted: an upload that cannot
finish leaves the old file as it was and nothing under the final name, and the
server's resources (file descriptors, tasks) return to where they were.
"""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import shutil
import socket
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import Server
from aioftp_lite.storage.local import LocalStorage
from tests.support.control import Wire, download, upload
from tests.support.files import partial_files
from tests.support.processes import ServerProcess

MiB = 1024 * 1024


# --- a full disk ---------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs), mounted for this test only."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
    if mounted.returncode != 0:
        # Needs root (CAP_SYS_ADMIN); test_file_size_limit below covers a real write failure anyway.
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], timeout=10, check=True)


async def test_disk_full_gives_452_and_keeps_the_old_file(small_disk: Path) -> None:
    old = os.urandom(200_000)
    (small_disk / "old.bin").write_bytes(old)
    free_before = os.statvfs(small_disk).f_bavail
    async with Server(root=small_disk, host="127.0.0.1", port=0) as server:

        def session() -> list[int]:
            wire = Wire(server.port)
            wire.login()
            assert wire.command("TYPE I").code == 200
            codes = [
                upload(wire, "old.bin", os.urandom(4 * MiB)),
                upload(wire, "new.bin", os.urandom(4 * MiB)),
            ]
            codes.append(upload(wire, "small.bin", b"fits"))  # space came back: uploads work again
            codes.append(len(download(wire, "old.bin")))
            wire.close()
            return codes

        codes = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert codes == [452, 452, 226, len(old)]
    assert (small_disk / "old.bin").read_bytes() == old
    assert not (small_disk / "new.bin").exists()
    assert (small_disk / "small.bin").read_bytes() == b"fits"
    assert partial_files(small_disk) == []
    assert os.statvfs(small_disk).f_bavail >= free_before - 2  # the temporary files' space is back


async def test_an_upload_that_fills_the_disk_in_small_writes_is_still_thrown_away(small_disk: Path) -> None:
    """Small writes sit in the file's buffer: when the disk is full, closing the file fails
    too (it flushes them). Throwing the upload away must still close and remove it."""
    storage = LocalStorage(small_disk)
    writer = await storage.open_write(PurePosixPath("/big.bin"))
    with pytest.raises(OSError) as full:
        for _ in range(10_000):
            await writer.write(os.urandom(1000))
    assert full.value.errno == errno.ENOSPC
    await writer.abort()
    assert list(small_disk.iterdir()) == []
    storage.close()  # it holds the root open: the disk is unmounted next


def test_file_size_limit_gives_552_and_keeps_the_old_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: the kernel refuses writes past 1 MiB (EFBIG) in the server process."""
    root = tmp_path / "root"
    root.mkdir()
    old = os.urandom(100_000)
    (root / "old.bin").write_bytes(old)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (MiB, MiB))

    limited = ServerProcess(root, tmp_path / "stderr.log")
    limited.start(preexec_fn=limit_file_size)
    try:
        wire = Wire(limited.port)
        wire.login()
        assert wire.command("TYPE I").code == 200
        assert upload(wire, "old.bin", os.urandom(3 * MiB)) == 552
        assert upload(wire, "new.bin", os.urandom(3 * MiB)) == 552
        assert upload(wire, "fits.bin", b"x" * 1000) == 226
        assert download(wire, "old.bin") == old
        wire.close()
        assert limited.alive()
    finally:
        limited.kill()
    assert (root / "old.bin").read_bytes() == old
    assert not (root / "new.bin").exists()
    assert partial_files(root) == []


def without_file_permission_override() -> list[str] | None:
    """A command prefix under which the OS's file permissions apply to the server.

    root ignores file modes (CAP_DAC_OVERRIDE): drop that capability with setpriv.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def test_os_permission_denied_gives_550(tmp_path: Path) -> None:
    wrapper = without_file_permission_override()
    if wrapper is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: root ignores file modes")
    root = tmp_path / "root"
    (root / "locked").mkdir(parents=True)
    (root / "secret.txt").write_bytes(b"secret")
    (root / "locked" / "old.txt").write_bytes(b"old")
    (root / "secret.txt").chmod(0)
    (root / "locked").chmod(0o555)
    try:
        with ServerProcess(root, tmp_path / "stderr.log", wrapper=wrapper) as server:
            wire = Wire(server.port)
            wire.login()
            assert wire.command("TYPE I").code == 200
            data = wire.passive()
            assert wire.command("RETR secret.txt").text == "Permission denied"
            data.close()
            for line in ("STOR locked/old.txt", "STOR locked/new.txt", "DELE locked/old.txt", "MKD locked/d"):
                if line.startswith("STOR"):
                    assert upload(wire, line.split()[1], b"new") == 550, line
                else:
                    reply = wire.command(line)
                    assert (reply.code, reply.text) == (550, "Permission denied"), (line, reply)
            assert download(wire, "locked/old.txt") == b"old"  # reading is still allowed there
            wire.close()
    finally:
        (root / "locked").chmod(0o755)
        (root / "secret.txt").chmod(0o644)
    assert sorted(p.name for p in (root / "locked").iterdir()) == ["old.txt"]


async def test_read_only_file_system_gives_550_and_changes_nothing(root: Path) -> None:
    (root / "f.txt").write_bytes(b"kept")
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(root), str(root)],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {mounted.stderr.strip()}")
    try:
        async with Server(root=root, host="127.0.0.1", port=0) as server:

            def session() -> list[tuple[int, str]]:
                wire = Wire(server.port)
                wire.login()
                replies = [wire.command(line) for line in ("MKD d", "DELE f.txt", "RNFR f.txt", "RNTO g.txt")]
                data = wire.passive()
                wire.send("STOR new.txt")
                replies.append(wire.final())
                data.close()
                wire.close()
                return [(reply.code, reply.text) for reply in replies]

            replies = await asyncio.wait_for(asyncio.to_thread(session), 20)
    finally:
        subprocess.run(["umount", str(root)], timeout=10, check=True)
    refused = (550, "Read-only file system")
    assert replies == [refused, refused, (350, "Ready for the new name (RNTO)"), refused, refused]
    assert sorted(p.name for p in root.iterdir()) == ["f.txt"]


# --- broken data connections ---------------------------------------------------------
async def test_broken_data_connection_gives_426_and_the_session_goes_on(root: Path) -> None:
    big = os.urandom(8 * MiB)
    (root / "big.bin").write_bytes(big)
    (root / "old.bin").write_bytes(b"old")
    async with Server(root=root, host="127.0.0.1", port=0) as server:

        def session() -> list[int]:
            wire = Wire(server.port)
            wire.login()
            assert wire.command("TYPE I").code == 200
            codes = []
            data = wire.passive(receive_buffer=16 * 1024)
            wire.send("RETR big.bin")
            codes.append(wire.reply().code)
            data.recv(1024)
            reset(data)
            codes.append(wire.final().code)
            data = wire.passive()
            wire.send("STOR old.bin")
            codes.append(wire.reply().code)
            data.sendall(os.urandom(256 * 1024))
            reset(data)
            codes.append(wire.final().code)
            codes.append(len(download(wire, "big.bin")))  # the same session still works
            wire.close()
            return codes

        codes = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert codes == [150, 426, 150, 426, len(big)]
    assert (root / "old.bin").read_bytes() == b"old"
    assert partial_files(root) == []


async def test_passive_connection_from_another_address_is_dropped(root: Path) -> None:
    (root / "f.txt").write_bytes(b"mine")
    async with Server(root=root, host="127.0.0.1", port=0, data_timeout=0.5) as server:

        def session() -> tuple[bytes, str, bytes]:
            wire = Wire(server.port)
            wire.login()
            port = int(wire.command("EPSV").text.split("|||")[1].rstrip("|)"))
            thief = socket.socket()
            thief.bind(("127.0.0.2", 0))  # another address on the loopback network
            thief.settimeout(5)
            thief.connect(("127.0.0.1", port))
            wire.send("RETR f.txt")
            assert wire.reply().code == 150
            stolen = thief.recv(100)  # closed by the server, nothing sent
            thief.close()
            refused = wire.final()
            mine = download(wire, "f.txt")  # a fresh passive connection from the right address
            wire.close()
            return stolen, f"{refused.code} {refused.text}", mine

        stolen, refused, mine = await asyncio.wait_for(asyncio.to_thread(session), 20)
    assert stolen == b""
    assert refused == "425 Can't open data connection: timed out"
    assert mine == b"mine"


# --- clients that vanish -------------------------------------------------------------
DISCONNECTS = 200
CONCURRENT = 10


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN, as a crashed client or a pulled cable looks."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def vanish(port: int, index: int) -> None:
    """Start a RETR or STOR, move some data, then disappear without a word."""
    wire = Wire(port)
    wire.login()
    assert wire.command("TYPE I").code == 200
    data = wire.passive(receive_buffer=16 * 1024)
    if index % 2:
        wire.send("RETR big.bin")
        assert wire.reply().code == 150
        data.recv(16 * 1024)
    else:
        wire.send(f"STOR {'old.bin' if index % 4 else f'new-{index}.bin'}")
        assert wire.reply().code == 150
        data.sendall(os.urandom(64 * 1024))
    order = index // 2 % 3
    if order == 0:
        reset(data)
        reset(wire.sock)
    elif order == 1:
        reset(wire.sock)
        reset(data)
    else:  # control reset, then the data connection closes "normally": still no commit
        reset(wire.sock)
        time.sleep(0.01)
        data.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_vanishing_clients_leave_no_fds_or_tasks(root: Path) -> None:
    big = os.urandom(8 * MiB)
    old = os.urandom(300_000)
    (root / "big.bin").write_bytes(big)
    (root / "old.bin").write_bytes(old)
    loop = asyncio.get_running_loop()
    # The clients block, so they get their own threads: the default executor serves aiofiles.
    with ThreadPoolExecutor(CONCURRENT) as clients:
        async with Server(root=root, host="127.0.0.1", port=0) as server:

            def normal_session() -> None:
                wire = Wire(server.port)
                wire.login()
                assert wire.command("TYPE I").code == 200
                assert upload(wire, "warm.bin", b"warm") == 226
                assert download(wire, "warm.bin") == b"warm"
                assert wire.command("QUIT").code == 221
                wire.close()

            # Warm up once (worker threads, lazily opened files), then take the baseline.
            await loop.run_in_executor(clients, normal_session)
            await asyncio.sleep(0.2)
            baseline = (open_fds(), len(asyncio.all_tasks()))

            started = time.monotonic()
            for batch in range(0, DISCONNECTS, CONCURRENT):
                jobs = [
                    loop.run_in_executor(clients, vanish, server.port, i)
                    for i in range(batch, batch + CONCURRENT)
                ]
                await asyncio.wait_for(asyncio.gather(*jobs), 30)
            elapsed = time.monotonic() - started

            settled = None
            for _ in range(200):  # up to 10 s for the server to notice and clean up
                settled = (open_fds(), len(asyncio.all_tasks()))
                if settled == baseline:
                    break
                await asyncio.sleep(0.05)
            assert settled == baseline, (
                f"fds, tasks: before {baseline}, after {DISCONNECTS} disconnects {settled}"
            )
            # And the server still serves.
            await loop.run_in_executor(clients, normal_session)
    print(f"\n{DISCONNECTS} vanishing clients in {elapsed:.1f}s; fds and tasks back to {baseline}")
    assert (root / "old.bin").read_bytes() == old
    assert (root / "big.bin").read_bytes() == big
    assert not list(root.glob("new-*"))
    assert partial_files(root) == []
