"""The config file and the command line (issue 4 point 2), through the real CLI.

The server runs as `python -m aioftp_lite serve --config FILE --port 0 ...` in a
subprocess; the test reads the address it prints and drives it with ftplib. Password
hashes come from `aioftp-lite hash-password --stdin`, also run as a subprocess.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from aioftp_lite.cli import build_parser, config_from_arguments
from tests.support.clients import ResumingFTP_TLS
from tests.support.processes import CLI, hash_password

START_TIMEOUT = 20.0
CLIENT_TIMEOUT = 10.0
PASSWORDS = {"alice": "alice pw", "bob": "bob pw", "carol": "carol pw"}


@pytest.fixture(scope="module")
def password_hashes() -> dict[str, str]:
    return {name: hash_password(password) for name, password in PASSWORDS.items()}


@dataclass
class Running:
    port: int
    stderr: Path
    pid: int


@contextlib.contextmanager
def serve(workdir: Path, config: Path | None, *flags: str) -> Iterator[Running]:
    """Run the CLI server; yields once it printed its address; SIGTERM at the end."""
    arguments = [*CLI, "serve", "--port", "0", *flags]
    if config is not None:
        arguments += ["--config", str(config)]
    stderr_path = workdir / f"server-stderr-{time.monotonic_ns()}.txt"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline().decode() if ready else ""
        match = re.search(r"ftpe?s?://127\.0\.0\.1:(\d+)", line)
        assert match, f"no address printed: {line!r}; stderr: {stderr_path.read_text()[-2000:]}"
        yield Running(int(match.group(1)), stderr_path, process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0, stderr_path.read_text()[-2000:]


def login(port: int, user: str, password: str | None = None) -> ftplib.FTP:
    client = ftplib.FTP(timeout=CLIENT_TIMEOUT)
    client.connect("127.0.0.1", port)
    try:
        client.login(user, PASSWORDS[user] if password is None else password)
    except BaseException:
        client.close()
        raise
    return client


def code(action: object, *arguments: object) -> int:
    """The reply code of an ftplib call, whether it succeeds or fails."""
    assert callable(action)
    try:
        result = action(*arguments)
    except ftplib.Error as error:
        return int(str(error)[:3])
    assert isinstance(result, str), f"{action} gave no reply text: {result!r}"
    return int(result[:3])


def retrieve(client: ftplib.FTP, path: str) -> bytes:
    out = bytearray()
    client.retrbinary(f"RETR {path}", out.extend)
    return bytes(out)


def write_users_config(tmp_path: Path, hashes: dict[str, str], extra: str = "") -> Path:
    config = tmp_path / "server.toml"
    config.write_text(f"""
[server]
root = "root"               # relative to this file
anonymous = false

[limits]
login_failure_delay = 0.05

[[users]]
name = "alice"
password_hash = "{hashes["alice"]}"
home = "alice"

[[users]]
name = "bob"
password_hash = "{hashes["bob"]}"
home = "bob"
permissions = ["list", "read"]

[[users]]
name = "carol"
password_hash = "{hashes["carol"]}"
home = "bob"
permissions = ["read"]
{extra}""")
    return config


# --- users, homes, permissions ---------------------------------------------------------
def test_users_get_their_home_and_their_permissions(tmp_path: Path, password_hashes: dict[str, str]) -> None:
    root = tmp_path / "root"
    (root / "bob").mkdir(parents=True)
    bob_file = os.urandom(100_000)
    (root / "bob" / "report.bin").write_bytes(bob_file)
    upload = os.urandom(200_000)
    config = write_users_config(tmp_path, password_hashes)

    with serve(tmp_path, config) as server:
        # alice: every permission, inside her own home (created at start).
        alice = login(server.port, "alice")
        alice.storbinary("STOR note.bin", io.BytesIO(upload))
        assert code(alice.sendcmd, "MKD folder") == 257
        assert code(alice.sendcmd, "RNFR note.bin") == 350
        assert code(alice.sendcmd, "RNTO folder/note.bin") == 250
        assert alice.nlst() == ["folder"]  # only her home: bob's files are not there
        assert code(retrieve, alice, "/bob/report.bin") == 550
        assert code(retrieve, alice, "../bob/report.bin") == 550
        assert code(alice.cwd, "..") == 250 and alice.pwd() == "/"  # the home is her root
        assert retrieve(alice, "folder/note.bin") == upload
        alice.quit()

        # bob: list + read only.
        bob = login(server.port, "bob")
        assert bob.nlst() == ["report.bin"]
        assert hashlib.sha256(retrieve(bob, "report.bin")).digest() == hashlib.sha256(bob_file).digest()
        assert code(bob.storbinary, "STOR new.bin", io.BytesIO(b"x")) == 550
        assert code(bob.delete, "report.bin") == 550
        assert code(bob.sendcmd, "MKD sub") == 550
        assert code(bob.sendcmd, "RNFR report.bin") == 550
        bob.quit()

        # carol: read but not list, in the same home as bob.
        carol = login(server.port, "carol")
        assert code(carol.retrlines, "LIST", lambda _line: None) == 550
        assert code(carol.nlst) == 550
        assert retrieve(carol, "report.bin") == bob_file
        carol.quit()

        # anonymous is off; a wrong password fails.
        assert code(login, server.port, "alice", "wrong") == 530
        anonymous = ftplib.FTP(timeout=CLIENT_TIMEOUT)
        anonymous.connect("127.0.0.1", server.port)
        assert code(anonymous.login, "anonymous", "guest@") == 530
        anonymous.close()

    assert hashlib.sha256((root / "alice" / "folder" / "note.bin").read_bytes()).digest() == \
        hashlib.sha256(upload).digest()  # fmt: skip
    assert sorted(p.name for p in (root / "bob").iterdir()) == ["report.bin"]


# --- read_only, limits, flags over the file --------------------------------------------
def greeting_codes(port: int, count: int) -> list[int]:
    """Open `count` control connections at once; the greeting code of each."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) for _ in range(count)]
    try:
        return [int(sock.makefile("rb").readline()[:3]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_file_limits_apply_and_flags_override_them(tmp_path: Path, password_hashes: dict[str, str]) -> None:
    (tmp_path / "root" / "alice").mkdir(parents=True)
    (tmp_path / "root" / "alice" / "old.txt").write_bytes(b"old\n")
    with socket.create_server(("127.0.0.1", 0)) as taken:  # the file's port is busy
        busy_port = taken.getsockname()[1]
        config = write_users_config(tmp_path, password_hashes, extra="")
        text = (
            config.read_text()
            .replace("anonymous = false", f"anonymous = false\nread_only = true\nport = {busy_port}")
            .replace("[limits]", "[limits]\nmax_connections = 1")
        )
        config.write_text(text)

        with serve(tmp_path, config) as by_file:  # --port 0 beats the busy port of the file
            assert greeting_codes(by_file.port, 2) == [220, 421]
            alice = login(by_file.port, "alice")
            assert code(alice.storbinary, "STOR new.txt", io.BytesIO(b"x")) == 550  # read_only
            assert code(alice.delete, "old.txt") == 550
            assert retrieve(alice, "old.txt") == b"old\n"
            alice.quit()

        with serve(tmp_path, config, "--max-connections", "3") as by_flag:
            assert greeting_codes(by_flag.port, 4) == [220, 220, 220, 421]
    assert sorted(p.name for p in (tmp_path / "root" / "alice").iterdir()) == ["old.txt"]


def test_every_flag_maps_onto_its_setting_and_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "cert.pem").write_text("placeholder")  # only checked for existence here
    (tmp_path / "key.pem").write_text("placeholder")
    config = tmp_path / "c.toml"
    config.write_text('[server]\nroot = "root"\nlog_level = "ERROR"\n'
                      "[limits]\nmax_connections = 7\nidle_timeout = 5\nmax_session_rate = 1\n")  # fmt: skip
    flags = [
        "serve", "--config", str(config), "--max-connections", "11", "--max-connections-per-ip", "3",
        "--idle-timeout", "12.5", "--data-timeout", "4", "--passive-ports", "50000-50010",
        "--masquerade-address", "192.0.2.9", "--max-session-rate", "2048", "--max-total-rate", "4096",
        "--shutdown-timeout", "2", "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key",
        str(tmp_path / "key.pem"), "--require-tls", "--log-file", str(tmp_path / "log.txt"),
        "--log-level", "debug", "--port", "0",
    ]  # fmt: skip
    config_out = config_from_arguments(build_parser().parse_args(flags))
    assert (config_out.max_connections, config_out.max_connections_per_ip) == (11, 3)
    assert (config_out.idle_timeout, config_out.data_timeout, config_out.shutdown_timeout) == (12.5, 4, 2)
    assert config_out.passive_ports == (50000, 50010)
    assert config_out.masquerade_address == "192.0.2.9"
    assert (config_out.max_session_rate, config_out.max_total_rate) == (2048, 4096)
    assert config_out.tls_cert == tmp_path / "cert.pem" and config_out.tls_key == tmp_path / "key.pem"
    assert config_out.require_tls is True
    assert config_out.log_file == tmp_path / "log.txt" and config_out.log_level == "DEBUG"
    assert config_out.port == 0 and config_out.root == (tmp_path / "root").resolve()
    # Without flags the file holds.
    from_file = config_from_arguments(build_parser().parse_args(["serve", "--config", str(config)]))
    assert (from_file.max_connections, from_file.idle_timeout, from_file.max_session_rate) == (7, 5.0, 1)
    assert from_file.log_level == "ERROR"


def test_tls_and_logging_flags_on_a_running_server(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.bin").write_bytes(content := os.urandom(50_000))
    log_file = tmp_path / "server.log"
    secret = "pw-that-must-not-be-logged"
    flags = ["--root", str(root), "--user", f"dave:{secret}", "--tls-cert", str(tmp_path / "cert.pem"),
             "--tls-key", str(tmp_path / "key.pem"), "--require-tls", "--log-file", str(log_file),
             "--log-level", "DEBUG", "--idle-timeout", "0.5"]  # fmt: skip
    with serve(tmp_path, None, *flags) as server:
        plain = ftplib.FTP(timeout=CLIENT_TIMEOUT)
        plain.connect("127.0.0.1", server.port)
        assert code(plain.login, "dave", secret) == 530  # --require-tls
        plain.close()
        client = ResumingFTP_TLS(context=ssl.create_default_context(cafile=str(tmp_path / "ca.pem")),
                                 timeout=CLIENT_TIMEOUT)  # fmt: skip
        client.connect("127.0.0.1", server.port)
        client.auth()
        client.login("dave", secret)
        client.prot_p()
        assert retrieve(client, "data.bin") == content
        time.sleep(1.0)  # --idle-timeout 0.5: the server says 421 and closes
        assert code(client.voidcmd, "NOOP") == 421
        client.close()
    log = log_file.read_text()
    assert "dave" in log and "RETR" in log
    assert secret not in log


def test_sighup_reloads_accounts_and_limits_without_dropping_sessions(
    tmp_path: Path, password_hashes: dict[str, str]
) -> None:
    """A changed password in the reloaded file is refused at once (no remembered digest of
    the old one lets it in); a removed user is gone; a session opened before stays."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"kept across the reload\n")
    config = tmp_path / "server.toml"

    def write_config(users: dict[str, str], max_per_ip: int) -> None:
        tables = "".join(f'[[users]]\nname = "{name}"\npassword_hash = "{hashed}"\n\n'
                         for name, hashed in users.items())  # fmt: skip
        config.write_text(f'[server]\nroot = "{root}"\n[limits]\nlogin_failure_delay = 0\n'
                          f"max_connections_per_ip = {max_per_ip}\n\n{tables}")  # fmt: skip

    write_config({"alice": password_hashes["alice"], "bob": password_hashes["bob"]}, 10)
    with serve(tmp_path, config) as server:
        before = login(server.port, "alice")  # the slow hash, then remembered
        login(server.port, "alice").quit()  # from the remembered digest
        # alice now has carol's password; bob is removed; at most 2 connections per address.
        write_config({"alice": password_hashes["carol"]}, 2)
        os.kill(server.pid, signal.SIGHUP)
        deadline = time.monotonic() + START_TIMEOUT
        while "reloaded accounts and limits" not in server.stderr.read_text():
            assert time.monotonic() < deadline, server.stderr.read_text()[-2000:]
            time.sleep(0.05)
        assert code(login, server.port, "alice", PASSWORDS["alice"]) == 530
        assert code(login, server.port, "bob") == 530
        after = login(server.port, "alice", PASSWORDS["carol"])
        assert code(login, server.port, "alice", PASSWORDS["carol"]) == 421  # the new per-address limit
        # The session from before the reload still works, transfers included.
        received = bytearray()
        before.retrbinary("RETR a.txt", received.extend)
        assert bytes(received) == b"kept across the reload\n"
        before.quit()
        after.quit()
