"""vsftpd, a server we did not write, started as root on a free port of 127.0.0.1 and stopped by
its process id; `vsftpd_missing` says why it cannot run here."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

VSFTPD = Path("/usr/sbin/vsftpd")


# --- vsftpd: refuses data connections that do not resume the control session -------------------
def vsftpd_missing() -> str | None:
    if not VSFTPD.exists():
        return f"{VSFTPD} is not installed"
    if os.geteuid() != 0:
        return "vsftpd must be started as root"
    try:
        pwd.getpwnam("ftp")
    except KeyError:
        return "no 'ftp' user for vsftpd's anonymous sessions"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def vsftpd_answers(port: int) -> bool:
    """vsftpd's own greeting on `port` (not another program's that took the port first)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
            return b"vsFTPd" in probe.recv(256)
    except OSError:
        return False


def start_vsftpd(settings: dict[str, str], config: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start vsftpd on a free port; a few tries, since the port may be taken before vsftpd binds it."""
    failures: list[str] = []
    for _attempt in range(3):
        port = free_port()
        config.write_text(
            "".join(f"{key}={value}\n" for key, value in {**settings, "listen_port": str(port)}.items())
        )
        process = subprocess.Popen(
            [str(VSFTPD), str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(100):  # up to 5 s for the listener
            if process.poll() is not None:
                break
            if vsftpd_answers(port):
                return process, port
            threading.Event().wait(0.05)
        stop_vsftpd(process)
        output = process.stdout.read().decode(errors="replace") if process.stdout else ""
        failures.append(f"port {port}: status {process.returncode}, {output.strip()!r}")
    pytest.fail(f"vsftpd did not start: {'; '.join(failures)}")


def stop_vsftpd(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(name="vsftpd")
def anonymous_vsftpd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """vsftpd serving tmp_path/vsftpd-root to anonymous users, writable in its upload/ folder:
    (port, root). Skips where vsftpd cannot run."""
    missing = vsftpd_missing()
    if missing:
        pytest.skip(missing)
    root, empty = tmp_path / "vsftpd-root", tmp_path / "vsftpd-empty"
    (root / "upload").mkdir(parents=True)
    empty.mkdir()
    root.chmod(0o755)  # anonymous sessions run as `ftp`; the root itself must not be writable
    ftp = pwd.getpwnam("ftp")
    os.chown(root / "upload", ftp.pw_uid, ftp.pw_gid)
    settings = {
        "listen": "YES", "listen_ipv6": "NO", "listen_address": "127.0.0.1",
        "background": "NO", "anonymous_enable": "YES", "local_enable": "NO", "no_anon_password": "YES",
        "anon_root": str(root), "write_enable": "YES", "anon_upload_enable": "YES", "anon_umask": "022",
        "anon_mkdir_write_enable": "YES", "anon_other_write_enable": "YES",
        "xferlog_enable": "NO", "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
        "secure_chroot_dir": str(empty), "connect_from_port_20": "NO",
    }  # fmt: skip
    process, port = start_vsftpd(settings, tmp_path / "vsftpd.conf")
    try:
        yield port, root
    finally:
        stop_vsftpd(process)
        if process.stdout:
            process.stdout.close()
