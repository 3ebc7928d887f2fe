"""Named accounts at full speed, and a login defence that never locks out the innocent (issue 11).

A real server task on 127.0.0.1 and raw control connections on the test's event loop
(tests/async_control.py). Other hosts are played by connections bound to 127.0.0.x: the
whole 127/8 is loopback on Linux, and the tests that need an address to be banned empty
the safelist (loopback is on it by default).
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aioftp_lite import Server
from aioftp_lite.auth import Authenticator, UserEntry
from aioftp_lite.config import DEFAULT_MAX_CONNECTIONS_PER_IP
from aioftp_lite.passwords import HASH_THREAD_NICENESS, SlowHashBudget, hash_password
from tests.support.control import Clients
from tests.support.threads import in_thread

USER, PASSWORD = "alice", "right password"


def serve(root: Path, **settings: Any) -> Server:
    defaults: dict[str, Any] = {"users": {USER: PASSWORD}, "login_failure_delay": 0.0}
    return Server(root=root, host="127.0.0.1", port=0, **{**defaults, **settings})


async def attempt(clients: Clients, password: str, user: str = USER, source: str | None = None) -> int:
    """One login on a new connection; the code of the PASS reply (or of the greeting if refused)."""
    control, greeting = await clients.connect(source)
    if greeting != 220:
        return greeting
    assert (await control.command(f"USER {user}"))[0] == 331
    code, _ = await control.command(f"PASS {password}", timeout=30)
    await control.close()
    return code


# --- verified-credential cache ------------------------------------------------------------
async def test_a_repeat_login_skips_the_slow_hash_and_a_wrong_password_never_does(root: Path) -> None:
    async with serve(root) as server, Clients(server.port) as clients:
        budget = server.context.authenticator.budget
        assert await attempt(clients, PASSWORD) == 230
        assert budget.checks == 1
        for _ in range(5):
            assert await attempt(clients, PASSWORD) == 230
        assert budget.checks == 1  # remembered
        for number in range(3):
            assert await attempt(clients, "wrong") == 530
            assert budget.checks == 2 + number  # never remembered
        assert await attempt(clients, PASSWORD) == 230
        assert budget.checks == 4


async def test_the_cache_holds_a_keyed_digest_not_the_password_or_the_hash(root: Path) -> None:
    async with serve(root) as server, Clients(server.port) as clients:
        assert await attempt(clients, PASSWORD) == 230
        authenticator = server.context.authenticator
        stored = authenticator.users[USER].password_hash
        (digest,) = authenticator.credentials._digests.values()
        assert len(digest) == 32
        assert PASSWORD.encode() not in digest and stored.encode() not in digest


async def test_many_clients_of_one_account_logging_in_at_once_cost_one_slow_hash(root: Path) -> None:
    async with serve(root) as server, Clients(server.port) as clients:
        codes = await asyncio.gather(*(attempt(clients, PASSWORD) for _ in range(40)))
        assert codes == [230] * 40
        assert server.context.authenticator.budget.checks == 1


async def test_a_reloaded_password_is_refused_at_once_and_sessions_stay(root: Path) -> None:
    (root / "a.txt").write_bytes(b"data")
    async with serve(root) as server, Clients(server.port, (USER, PASSWORD)) as clients:
        before, _ = await clients.connect()
        await before.login()
        assert await attempt(clients, PASSWORD) == 230  # remembered now
        new_hash = await asyncio.to_thread(hash_password, "new password")
        config = replace(server.config, users={}, accounts={USER: UserEntry(new_hash)})
        assert await server.reload(config) == []  # nothing that needs a restart
        assert await attempt(clients, PASSWORD) == 530
        assert await attempt(clients, "new password") == 230
        assert (await before.command("SIZE a.txt"))[0] == 213  # logged in before: still served


async def test_users_given_on_the_command_line_are_hashed_once(root: Path) -> None:
    async with serve(root) as server:
        entry = server.context.authenticator.users[USER]
        assert entry.password_hash.startswith("scrypt$") and PASSWORD not in entry.password_hash
        # A reload with the same --user keeps the hash (and what was verified with it).
        await server.reload(replace(server.config, users={USER: PASSWORD}))
        assert server.context.authenticator.users[USER] is entry


# --- slow hashes within a budget --------------------------------------------------------
async def test_a_full_hash_queue_answers_421_busy_and_closes(root: Path) -> None:
    settings = {"login_queue": 2, "login_hash_cpu": 0.05, "ban_safelist": (), "max_login_failures": 0}
    async with serve(root, **settings) as server, Clients(server.port) as clients:
        # Wrong passwords from several addresses: a few are checked, the rest find the queue full.
        codes = await asyncio.gather(
            *(attempt(clients, f"guess {n}", source=f"127.0.0.{10 + n}") for n in range(12))
        )
        assert set(codes) <= {530, 421}, codes
        assert 421 in codes and 530 in codes
        assert server.context.authenticator.budget.refused >= codes.count(421)


async def test_a_password_flood_does_not_starve_a_logged_in_bystander(root: Path) -> None:
    """Functional check (the speed is shown by benchmarks' login_flood): while two dozen
    clients from other addresses send wrong passwords as fast as they can, the bystander's
    commands and downloads are answered, and right."""
    payload = bytes(range(256)) * 4096  # 1 MiB
    (root / "file.bin").write_bytes(payload)
    settings = {"ban_safelist": (), "max_login_failures": 0, "login_queue_wait": 2.0}
    async with serve(root, **settings) as server, Clients(server.port) as clients:
        stop = asyncio.Event()

        async def flood(source: str) -> int:
            tries = 0
            while not stop.is_set():
                assert await attempt(clients, f"guess {tries}", source=source) in (530, 421)
                tries += 1
            return tries

        flooders = [asyncio.create_task(flood(f"127.0.1.{n}")) for n in range(1, 25)]

        def bystander(port: int) -> int:
            client = ftplib.FTP(timeout=20)
            client.connect("127.0.0.1", port)
            client.login(USER, PASSWORD)
            for _ in range(10):
                client.voidcmd("NOOP")
                received = io.BytesIO()
                client.retrbinary("RETR file.bin", received.write)
                assert received.getvalue() == payload
            client.quit()
            return 10

        try:
            await asyncio.sleep(0.5)  # the flood is on
            assert await in_thread(lambda: bystander(server.port), 60) == 10
        finally:
            stop.set()
            tries = await asyncio.gather(*flooders)
        assert sum(tries) > 24


# --- the defender ------------------------------------------------------------------------
async def test_wrong_passwords_from_a_safelisted_address_never_lock_the_right_one_out(root: Path) -> None:
    settings = {"max_login_failures": 3, "login_failure_delay": 0.05}
    async with serve(root, **settings) as server, Clients(server.port) as clients:

        async def mistyping(rounds: int) -> None:
            for n in range(rounds):
                assert await attempt(clients, f"typo {n}") == 530

        await asyncio.gather(*(mistyping(6) for _ in range(5)))
        assert server.context.defender.failures("127.0.0.1") >= 3
        assert not server.context.defender.is_banned("127.0.0.1")
        assert await attempt(clients, PASSWORD) == 230
        assert server.context.defender.failures("127.0.0.1") == 0  # a success clears the score


async def test_a_non_safelisted_address_is_banned_then_unbanned_with_escalation(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite")
    settings = {"ban_safelist": (), "max_login_failures": 2, "first_ban_seconds": 0.6, "ban_seconds": 5.0}
    attacker = "127.0.0.2"
    async with serve(root, **settings) as server, Clients(server.port) as clients:
        assert [await attempt(clients, "wrong", source=attacker) for _ in range(2)] == [530, 530]
        assert await attempt(clients, PASSWORD, source=attacker) == 421  # from the next connection
        assert await attempt(clients, PASSWORD, source="127.0.0.3") == 230  # another address is not
        await asyncio.sleep(0.8)
        assert await attempt(clients, PASSWORD, source=attacker) == 230  # the first ban expired
        # The second ban lasts twice as long.
        assert [await attempt(clients, "wrong", source=attacker) for _ in range(2)] == [530, 530]
        await asyncio.sleep(0.8)
        assert await attempt(clients, PASSWORD, source=attacker) == 421
        await asyncio.sleep(0.6)
        assert await attempt(clients, PASSWORD, source=attacker) == 230
    log = caplog.text
    assert f"{attacker} banned for 0.6s" in log and f"{attacker} banned for 1.2s" in log
    assert f"{attacker} unbanned" in log
    assert f"{attacker}:" in log and "failed login as 'alice'" in log


async def test_more_than_the_default_connections_per_address_only_outside_the_safelist(root: Path) -> None:
    limit = DEFAULT_MAX_CONNECTIONS_PER_IP
    async with serve(root, ban_safelist=("127.0.0.1",)) as server, Clients(server.port) as clients:
        outside = [(await clients.connect("127.0.0.2"))[1] for _ in range(limit + 1)]
        assert outside == [220] * limit + [421]
        inside = [(await clients.connect("127.0.0.1"))[1] for _ in range(limit + 5)]
        assert inside == [220] * (limit + 5)


# --- anonymous only when asked ---------------------------------------------------------------
async def test_anonymous_is_off_once_a_named_user_exists(root: Path) -> None:
    async with serve(root) as server, Clients(server.port) as clients:
        control, _ = await clients.connect()
        code, text = await control.command("USER anonymous")
        assert (code, text) == (530, "530 Anonymous login is disabled")
        assert await attempt(clients, PASSWORD) == 230


@pytest.mark.parametrize(
    ("settings", "may_upload"),
    [({"users": {}}, True), ({"anonymous": "read"}, False), ({"anonymous": "write"}, True)],
    ids=["no-named-user", "read", "write"],
)
async def test_anonymous_access_when_asked(root: Path, settings: dict[str, Any], may_upload: bool) -> None:
    (root / "a.txt").write_bytes(b"public")

    def session(port: int) -> tuple[bytes, str]:
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", port)
        client.login()
        received = io.BytesIO()
        client.retrbinary("RETR a.txt", received.write)
        try:
            outcome = client.storbinary("STOR b.txt", io.BytesIO(b"x"))
        except ftplib.error_perm as error:
            outcome = str(error)
        client.quit()
        return received.getvalue(), outcome

    async with serve(root, **settings) as server:
        received, outcome = await in_thread(lambda: session(server.port))
    assert received == b"public"
    assert outcome.startswith("226" if may_upload else "550"), outcome
    assert (root / "b.txt").exists() == may_upload


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's per-thread /proc entries")
async def test_password_checks_run_at_a_lower_priority_than_the_event_loop(root: Path) -> None:
    async with serve(root) as server, Clients(server.port) as clients:
        assert await attempt(clients, PASSWORD) == 230
        # Python names no OS threads: the hashing thread is the one with the lower priority.
        niceness = [
            os.getpriority(os.PRIO_PROCESS, int(task.name)) for task in Path("/proc/self/task").iterdir()
        ]
        assert HASH_THREAD_NICENESS in niceness, niceness
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < HASH_THREAD_NICENESS


async def test_a_check_whose_logins_all_left_while_queued_is_never_run(root: Path) -> None:
    """A client that sends PASS and hangs up must not cost a slow hash once it is gone."""
    budget = SlowHashBudget(cpu_share=0.05, burst=0.001)  # in debt after the first check
    authenticator = Authenticator(root=root, budget=budget)
    authenticator.add_user(USER, PASSWORD)
    assert await authenticator.authenticate(USER, "first guess", "127.0.0.2") is None
    assert budget.checks == 1
    # The next check must wait for the bucket (about a second): both logins leave meanwhile.
    waiting = [asyncio.create_task(authenticator.authenticate(USER, "second", "127.0.0.2")) for _ in range(2)]
    await asyncio.sleep(0.1)
    assert budget.waiting == 1  # one shared check for both
    for login in waiting:
        login.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await asyncio.sleep(0)
    assert budget.waiting == 0 and budget.checks == 1
    budget.close()
