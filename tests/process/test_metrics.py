"""Prometheus metrics: /metrics scraped over HTTP after real ftplib sessions; the counters
move by exactly what the clients did. One server in this process, one with --workers 2."""

from __future__ import annotations

import asyncio
import errno
import ftplib
import io
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aioftp_lite import MemoryStorage, Server
from tests.support.clients import PASSWORD, USER, code_of, connect_ftplib
from tests.support.threads import in_thread

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def changes(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def sessions(port: int) -> None:
    """What the counters must show: 2 uploads, 1 download, 1 listing, 1 failed and 3 good logins."""
    client = connect_ftplib(port)
    client.storbinary("STOR a.bin", io.BytesIO(b"a" * 1000))
    client.storbinary("STOR b.bin", io.BytesIO(b"b" * 234))
    client.retrbinary("RETR a.bin", lambda _data: None)
    client.retrlines("LIST", lambda _line: None)
    client.mkd("folder")
    client.rename("b.bin", "c.bin")
    client.delete("c.bin")
    client.quit()
    named = connect_ftplib(port, USER, PASSWORD)
    named.quit()
    bad = ftplib.FTP(timeout=10)
    bad.connect("127.0.0.1", port)
    with pytest.raises(ftplib.error_perm, match="530"):
        bad.login(USER, "wrong")
    bad.quit()


async def test_counters_move_by_what_the_clients_did(root: Path) -> None:
    async with Server(
        root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, anonymous="write",
        login_failure_delay=0, metrics_listen=("127.0.0.1", 0),
    ) as server:  # fmt: skip
        before = await in_thread(lambda: scrape(server.metrics_port))
        await in_thread(lambda: sessions(server.port))
        after = await in_thread(lambda: scrape(server.metrics_port))

    def moved(name: str, **labels: str) -> float:
        return changes(before, after, name, **labels)

    assert moved("aioftp_lite_connections_accepted_total") == 3
    assert value(after, "aioftp_lite_sessions_open") == 0
    assert moved("aioftp_lite_logins_total", result="ok", kind="anonymous") == 1
    assert moved("aioftp_lite_logins_total", result="ok", kind="named") == 1
    assert moved("aioftp_lite_logins_total", result="failed", kind="named") == 1
    assert moved("aioftp_lite_transfers_total", direction="upload", result="ok") == 2
    assert moved("aioftp_lite_transfers_total", direction="download", result="ok") == 1
    assert moved("aioftp_lite_transferred_bytes_total", direction="upload") == 1234
    assert moved("aioftp_lite_transferred_bytes_total", direction="download") == 1000
    assert moved("aioftp_lite_transfer_duration_seconds_count", direction="upload") == 2
    assert moved("aioftp_lite_listings_total", result="ok") == 1
    assert moved("aioftp_lite_listing_duration_seconds_count") == 1
    for operation in ("mkdir", "rename", "delete"):
        assert moved("aioftp_lite_file_operations_total", operation=operation) == 1


async def test_refusals_bans_and_passive_ports_are_counted(root: Path) -> None:
    async with Server(
        root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, login_failure_delay=0,
        max_connections_per_ip=2, max_login_failures=1, ban_safelist=(), metrics_listen=("127.0.0.1", 0),
    ) as server:  # fmt: skip

        def clients() -> None:
            first = connect_ftplib(server.port, USER, PASSWORD)
            first.sendcmd("PASV")  # a passive listener that waits for its data connection
            second = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            assert second.recv(100).startswith(b"220")
            third = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            assert third.recv(100).startswith(b"421")  # over the per-address limit
            third.close()
            deadline = time.monotonic() + 10
            while value(scrape(server.metrics_port), "aioftp_lite_passive_ports_in_use") != 1:
                assert time.monotonic() < deadline, "the passive listener was never seen"
                time.sleep(0.1)
            first.quit()
            second.sendall(b"USER alice\r\nPASS wrong\r\n")
            assert b"530" in second.recv(1000) + second.recv(1000)  # the ban follows this failure
            second.close()

        await in_thread(clients)
        after = await in_thread(lambda: scrape(server.metrics_port))
    assert value(after, "aioftp_lite_connections_refused_total", reason="per_ip") == 1
    assert value(after, "aioftp_lite_bans_total") == 1
    assert value(after, "aioftp_lite_bans_active") == 1


class BrokenDisk(MemoryStorage):
    async def mkdir(self, path):  # type: ignore[no-untyped-def]
        raise OSError(errno.EIO, "Input/output error")


async def test_storage_errors_are_counted_by_backend_but_a_missing_file_is_not(root: Path) -> None:
    storage = BrokenDisk()
    async with Server(
        root=root, host="127.0.0.1", port=0, storage_factory=lambda _account: storage,
        metrics_listen=("127.0.0.1", 0),
    ) as server:  # fmt: skip

        def session() -> None:
            client = connect_ftplib(server.port)
            assert code_of(client, "MKD x") == 451
            assert code_of(client, "DELE missing") == 550  # the client's mistake, not the storage's
            client.quit()

        await in_thread(session)
        after = await in_thread(lambda: scrape(server.metrics_port))
    assert value(after, "aioftp_lite_storage_errors_total", backend="brokendisk") == 1
    assert sum(v for (name, _), v in after.items() if name == "aioftp_lite_storage_errors_total") == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_workers_are_summed_once_by_the_supervisors_endpoint(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    metrics_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0", "--workers", "2",
         "--anonymous-write", "--metrics", f"127.0.0.1:{metrics_port}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await in_thread(process.stdout.readline, timeout=20)
        match = re.search(r"ftp://127\.0\.0\.1:(\d+) with 2 workers", line)
        assert match, line
        port = int(match[1])

        def clients() -> Samples:
            deadline = time.monotonic() + 20
            while True:  # both workers up: each answers a login
                try:
                    connect_ftplib(port).quit()
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            before = scrape(metrics_port)
            for index in range(6):
                client = connect_ftplib(port)
                client.storbinary(f"STOR f{index}.bin", io.BytesIO(b"x" * 100))
                client.quit()
            after = scrape(metrics_port)
            return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}

        moved = await in_thread(clients, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert value(moved, "aioftp_lite_logins_total", result="ok", kind="anonymous") == 6
    assert value(moved, "aioftp_lite_transfers_total", direction="upload", result="ok") == 6
    assert value(moved, "aioftp_lite_transferred_bytes_total", direction="upload") == 600
    assert sorted(path.name for path in root.iterdir()) == [f"f{index}.bin" for index in range(6)]


async def test_the_endpoint_stops_with_the_server(root: Path) -> None:
    async with Server(root=root, host="127.0.0.1", port=0, metrics_listen=("127.0.0.1", 0)) as server:
        port = server.metrics_port
    with pytest.raises(OSError):
        await asyncio.to_thread(scrape, port)
