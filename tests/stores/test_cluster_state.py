"""Shared state in Redis (issue 15 point 1): bans and connection counts hold across nodes;
a dead node's counts expire; Redis stopping and coming back leaves the nodes serving.

Nodes are in-process servers on 127.0.0.1 (or a server process, to be killed), all given
the same `state_url` of a redis-server started for the test.
"""

from __future__ import annotations

import asyncio
import ftplib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aioftp_lite import Server
from benchmarks.redis_server import RedisServer, free_port
from tests.support.clients import accounts_for
from tests.support.threads import in_thread

USER, PASSWORD = "alice", "pw"
ACCOUNTS = accounts_for(USER, PASSWORD)
TIMEOUT = 10.0
T = TypeVar("T")


def node(root: Path, redis: RedisServer, **settings: Any) -> Server:
    options: dict[str, Any] = {"state_url": redis.url, "login_failure_delay": 0.0, "ban_safelist": ()}
    options.update(settings)
    return Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS, **options)


def welcome(port: int, source: str = "127.0.0.1") -> tuple[str, ftplib.FTP | None]:
    """The first reply; the client stays connected if it was 220."""
    client = ftplib.FTP(timeout=TIMEOUT, source_address=(source, 0))
    try:
        return client.connect("127.0.0.1", port), client
    except ftplib.Error as error:
        client.close()
        return str(error), None


def fail_logins(port: int, times: int, source: str = "127.0.0.1") -> None:
    for _ in range(times):
        client = ftplib.FTP(timeout=TIMEOUT, source_address=(source, 0))
        client.connect("127.0.0.1", port)
        with pytest.raises(ftplib.error_perm, match="530"):
            client.login(USER, "wrong")
        client.close()


def logs_in(port: int, source: str = "127.0.0.1") -> bool:
    _text, client = welcome(port, source)
    if client is None:
        return False
    client.login(USER, PASSWORD)
    client.quit()
    return True


async def test_a_ban_through_one_node_holds_on_the_other(tmp_path: Path, redis_server: RedisServer) -> None:
    async with (
        node(tmp_path, redis_server, max_login_failures=3) as a,
        node(tmp_path, redis_server, max_login_failures=3) as b,
    ):
        await in_thread(lambda: fail_logins(a.port, 2))
        await in_thread(lambda: fail_logins(b.port, 1))  # the scores add up across nodes too
        text, _ = await in_thread(lambda: welcome(b.port))
        assert text.startswith("421 Too many failed logins")
        text, _ = await in_thread(lambda: welcome(a.port))
        assert text.startswith("421 Too many failed logins")
        assert await in_thread(lambda: logs_in(a.port, "127.0.0.3"))  # another address is not banned


async def test_connections_per_address_count_across_nodes(tmp_path: Path, redis_server: RedisServer) -> None:
    async with (
        node(tmp_path, redis_server, max_connections_per_ip=2) as a,
        node(tmp_path, redis_server, max_connections_per_ip=2) as b,
    ):
        text, first = await in_thread(lambda: welcome(a.port))
        assert text.startswith("220") and first is not None
        text, second = await in_thread(lambda: welcome(b.port))
        assert text.startswith("220") and second is not None
        text, _ = await in_thread(lambda: welcome(a.port))
        assert text.startswith("421 Too many connections from your address")
        text, _ = await in_thread(lambda: welcome(b.port))
        assert text.startswith("421 Too many connections from your address")
        assert await in_thread(lambda: logs_in(a.port, "127.0.0.3"))  # per address
        await in_thread(second.quit)
        for _ in range(50):  # the session on b ends a moment after its 221
            text, third = await in_thread(lambda: welcome(a.port))
            if third is not None:
                break
            await asyncio.sleep(0.05)
        assert third is not None, text
        for client in (first, third):
            await in_thread(client.quit)


async def test_a_killed_node_s_connections_are_forgotten(tmp_path: Path, redis_server: RedisServer) -> None:
    """A node killed with SIGKILL cannot release its counts: they expire with its heartbeat."""
    config = tmp_path / "node.toml"
    config.write_text(f'[state]\nurl = "{redis_server.url}"\nnode_ttl = 1\n', encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(tmp_path), "--port", str(port),
               "--config", str(config), "--max-connections-per-ip", "2", "--ban-safelist", ""]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert process.stdout is not None
        assert b"serving" in await in_thread(process.stdout.readline)
        clients = [(await in_thread(lambda: welcome(port)))[1] for _ in range(2)]
        assert all(clients)
        async with node(tmp_path, redis_server, max_connections_per_ip=2) as survivor:
            text, _ = await in_thread(lambda: welcome(survivor.port))
            assert text.startswith("421 Too many connections")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=TIMEOUT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                text, client = await in_thread(lambda: welcome(survivor.port))
                if client is not None:
                    await in_thread(client.quit)
                    break
                await asyncio.sleep(0.2)
            assert text.startswith("220"), text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


async def test_nodes_serve_through_a_redis_outage_and_share_again_after_it(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite")
    async with (
        node(tmp_path, redis_server, max_login_failures=2) as a,
        node(tmp_path, redis_server, max_login_failures=2) as b,
    ):
        assert await in_thread(lambda: logs_in(a.port))
        redis_server.stop()  # by its PID
        for _ in range(3):
            assert await in_thread(lambda: logs_in(a.port))
            assert await in_thread(lambda: logs_in(b.port))
        lost = [r for r in caplog.records if "shared state" in r.getMessage() and "lost" in r.getMessage()]
        assert len(lost) == 2  # once per node, not once per call
        # Alone, a node still bans by its own count.
        await in_thread(lambda: fail_logins(a.port, 2, "127.0.0.4"))
        assert not await in_thread(lambda: logs_in(a.port, "127.0.0.4"))
        assert await in_thread(lambda: logs_in(b.port, "127.0.0.4"))  # b was not told: no store
        redis_server.start()  # the same port again
        deadline = time.monotonic() + 5
        while caplog.text.count("reachable again") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert caplog.text.count("reachable again") == 2
        await in_thread(lambda: fail_logins(a.port, 2, "127.0.0.5"))
        text, _ = await in_thread(lambda: welcome(b.port, "127.0.0.5"))
        assert text.startswith("421 Too many failed logins")
        assert "Traceback" not in caplog.text


async def test_sessions_per_user_count_across_nodes(tmp_path: Path, redis_server: RedisServer) -> None:
    async with (
        node(tmp_path, redis_server, max_connections_per_user=1) as a,
        node(tmp_path, redis_server, max_connections_per_user=1) as b,
    ):
        _text, first = await in_thread(lambda: welcome(a.port))
        assert first is not None
        await in_thread(lambda: first.login(USER, PASSWORD))
        _text, second = await in_thread(lambda: welcome(b.port))
        assert second is not None
        with pytest.raises(ftplib.error_perm, match="530 Too many connections for user alice"):
            await in_thread(lambda: second.login(USER, PASSWORD))
        await in_thread(lambda: first.sendcmd("USER bob"))  # a new login: no longer alice's
        await in_thread(lambda: second.login(USER, PASSWORD))
        with pytest.raises(ftplib.error_perm, match="530 Too many connections"):
            await in_thread(lambda: first.login(USER, PASSWORD))
        await in_thread(second.quit)
        for _ in range(50):  # the session on b ends a moment after its 221
            try:
                await in_thread(lambda: first.login(USER, PASSWORD))
                break
            except ftplib.error_perm:
                await asyncio.sleep(0.05)
        assert await in_thread(first.pwd) == "/"
        await in_thread(first.quit)
