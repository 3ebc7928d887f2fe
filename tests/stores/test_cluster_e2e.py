"""A cluster on one machine (issue 15 point 4), every part real and stopped by its PID:
SeaweedFS (the bucket), redis-server (the shared state), two server processes on 127.0.0.2
and 127.0.0.3 with passive ranges of their own, and HAProxy in TCP mode with send-proxy-v2
in front of them on 127.0.0.1, as docs/cluster.md sets it up.

The balancer connects to the nodes from 127.0.0.9 (the only address they trust to send a
PROXY header); clients connect to it from 127.0.0.20 and up, so a node's log can show which
address it took for the client's. Passive ports: each node announces the balancer's address
(--masquerade-address) and a range of its own, which the balancer forwards to it.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.haproxy import HAProxy, Node, cluster_config, haproxy_binary
from benchmarks.redis_server import RedisServer, free_port
from benchmarks.seaweedfs import SeaweedFS
from tests.support.s3 import BUCKET, fresh_prefix
from tests.support.threads import in_thread

USER, PASSWORD = "alice", "pw"
BALANCER = "127.0.0.1"
BALANCER_SOURCE = "127.0.0.9"
TIMEOUT = 10.0

pytestmark = pytest.mark.timeout(60)


def free_range(count: int, hosts: tuple[str, ...]) -> tuple[int, int]:
    """`count` consecutive ports free on every one of `hosts`: below Linux's ephemeral range
    (32768 up), where the suite's own closed connections sit in TIME_WAIT by the thousand;
    those do not count (SO_REUSEADDR, as the servers bind)."""
    for _ in range(50):
        low = random.randrange(20000, 32000 - count)
        probes: list[socket.socket] = []
        try:
            for host in hosts:
                for port in range(low, low + count):
                    probe = socket.socket()
                    probes.append(probe)
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind((host, port))
            return low, low + count - 1
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self, tmp_path: Path, redis: RedisServer, store: SeaweedFS) -> None:
        self.tmp_path = tmp_path
        self.prefix = fresh_prefix()
        self.redis = redis
        self.store = store
        self.port = free_port(BALANCER)
        self.pinned = {"a": free_port(BALANCER), "b": free_port(BALANCER)}
        self.nodes = [
            Node("a", "127.0.0.2", free_port("127.0.0.2"), free_range(8, (BALANCER, "127.0.0.2"))),
            Node("b", "127.0.0.3", free_port("127.0.0.3"), free_range(8, (BALANCER, "127.0.0.3"))),
        ]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        config = cluster_config(BALANCER, self.port, self.nodes, BALANCER_SOURCE, self.pinned)
        self.haproxy = HAProxy(tmp_path / "haproxy", config, BALANCER, self.port)

    def log_of(self, name: str) -> str:
        return (self.tmp_path / f"node-{name}.log").read_text(encoding="utf-8", errors="replace")

    def start_node(self, node: Node) -> subprocess.Popen[bytes]:
        config = self.tmp_path / f"node-{node.name}.toml"
        config.write_text(
            f'[server]\nbanner = "node {node.name} ready"\n[limits]\nlogin_failure_delay = 0.05\n'
        )
        low, high = node.passive
        command = [
            sys.executable, "-m", "aioftp_lite", "serve", "--config", str(config),
            "--host", node.host, "--port", str(node.port), "--user", f"{USER}:{PASSWORD}",
            "--storage", f"s3://{BUCKET}/{self.prefix}", "--s3-endpoint", self.store.endpoint,
            "--state", self.redis.url, "--proxy-protocol", "--proxy-trusted", f"{BALANCER_SOURCE}/32",
            "--passive-ports", f"{low}-{high}", "--masquerade-address", BALANCER,
            "--ban-safelist", "", "--log-file", str(self.tmp_path / f"node-{node.name}.log"),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def start(self) -> None:
        for node in self.nodes:
            self.processes[node.name] = self.start_node(node)
        for process in self.processes.values():
            assert process.stdout is not None
            line = process.stdout.readline()  # the start-up line, once it listens
            assert b"serving" in line, line
        self.haproxy.start()

    def stop(self) -> None:
        self.haproxy.stop()
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer, seaweedfs: SeaweedFS) -> Iterator[Cluster]:
    if haproxy_binary() is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    seaweedfs.resume()
    running = Cluster(tmp_path, redis_server, seaweedfs)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def client(port: int, source: str) -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=TIMEOUT, source_address=(source, 0))
    ftp.connect(BALANCER, port)
    return ftp


def node_of(ftp: ftplib.FTP) -> str:
    return ftp.getwelcome().split()[2]  # "220 node a ready"


def sources_by_node(port: int) -> dict[str, list[str]]:
    """Client addresses the balancer sends to each node (sticky by source address)."""
    found: dict[str, list[str]] = {"a": [], "b": []}
    for last in range(20, 60):
        source = f"127.0.0.{last}"
        ftp = client(port, source)
        found[node_of(ftp)].append(source)
        ftp.quit()
        if all(len(sources) >= 2 for sources in found.values()):
            break
    return found


class HeldUpload(io.RawIOBase):
    """File data for storbinary that stops after `first` bytes until `go` is set."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.sent = 0
        self.waiting = threading.Event()
        self.go = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= self.first:
            self.waiting.set()
            self.go.wait(TIMEOUT)
        self.sent += 65536
        return b"u" * 65536 if self.sent < 64 * 1024 * 1024 else b""


async def test_two_nodes_behind_haproxy_serve_as_one(cluster: Cluster, s3_client: object) -> None:
    port = cluster.port
    sources = await in_thread(lambda: sources_by_node(port))
    assert len(sources["a"]) >= 2 and len(sources["b"]) >= 2, sources
    on_a, on_b = sources["a"][0], sources["b"][0]

    # An upload through node a is listed and downloaded byte-identical through node b.
    payload = os.urandom(3 * 1024 * 1024 + 123)

    def upload() -> str:
        ftp = client(port, on_a)
        assert node_of(ftp) == "a"
        ftp.login(USER, PASSWORD)
        answer = ftp.storbinary("STOR shared.bin", io.BytesIO(payload))
        ftp.quit()
        return answer

    assert (await in_thread(upload)).startswith("226")

    def download() -> tuple[list[str], bytes]:
        ftp = client(port, on_b)
        assert node_of(ftp) == "b"
        ftp.login(USER, PASSWORD)
        names = ftp.nlst()
        received = io.BytesIO()
        ftp.retrbinary("RETR shared.bin", received.write)
        ftp.quit()
        return names, received.getvalue()

    names, received = await in_thread(download)
    assert names == ["shared.bin"]
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()

    # The nodes' logs show the clients' addresses, never the balancer's.
    for name, source in (("a", on_a), ("b", on_b)):
        log = cluster.log_of(name)
        assert f"{source}:" in log and f"logged in as {USER}" in log
        assert BALANCER_SOURCE not in log

    # Five wrong passwords through node a ban the address on node b too.
    guesser = sources["a"][1]

    def guess() -> None:
        for _ in range(5):
            ftp = client(port, guesser)
            assert node_of(ftp) == "a"
            with pytest.raises(ftplib.error_perm, match="530"):
                ftp.login(USER, "wrong")
            ftp.close()

    await in_thread(guess)
    with pytest.raises(ftplib.error_temp, match="421 Too many failed logins"):
        await in_thread(lambda: client(cluster.pinned["b"], guesser))
    assert await in_thread(lambda: node_of(client(cluster.pinned["b"], on_b))) == "b"  # others still served

    # SIGKILL of node a mid-upload: no partial object, and the client is served by node b.
    held = HeldUpload(first=2 * 1024 * 1024)
    ftp = await in_thread(lambda: client(port, on_a))
    await in_thread(lambda: ftp.login(USER, PASSWORD))
    uploading = asyncio.ensure_future(in_thread(lambda: ftp.storbinary("STOR cut.bin", held)))
    assert await in_thread(lambda: held.waiting.wait(TIMEOUT))
    cluster.processes["a"].send_signal(signal.SIGKILL)
    cluster.processes["a"].wait(timeout=TIMEOUT)
    held.go.set()
    with pytest.raises((OSError, EOFError, ftplib.Error)):
        await uploading
    ftp.close()

    def reconnect() -> tuple[str, list[str]]:
        for _ in range(50):  # as a client does: until the balancer has seen node a go
            try:
                again = client(port, on_a)
                break
            except (OSError, EOFError):
                time.sleep(0.1)
        again.login(USER, PASSWORD)
        names = again.nlst()
        again.quit()
        return node_of(again), names

    node, names = await in_thread(reconnect)
    assert node == "b" and names == ["shared.bin"]
    page = await s3_client.list_page(cluster.prefix + "/")  # type: ignore[attr-defined]
    keys = [item["Key"] for item in page.get("Contents", ())]
    assert keys == [f"{cluster.prefix}/shared.bin"]
