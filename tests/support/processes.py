"""The server and the client as processes of their own, each stopped by its process id."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import psutil

PROJECT = Path(__file__).resolve().parents[2]  # the repository: subprocesses import our code from it


@contextmanager
def server_process(
    root: Path, *arguments: str, python: str = "", wrapper: Sequence[str] = ()
) -> Iterator[int]:
    """`aioftp-lite serve` on `root` as its own process (as a black-box client meets it);
    yields its port and kills it on exit. `python`: code run in that process first;
    `wrapper`: a command the server runs under (strace ...), which ends with it."""
    start = f"{python}; import sys; from aioftp_lite.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [*wrapper, sys.executable, "-c", start.lstrip("; "), "serve", "--root", str(root), "--port", "0",
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"ftp://127\.0\.0\.1:(\d+)", process.stdout.readline())
        assert match, "the server did not start"
        yield int(match[1])
    finally:
        if wrapper:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()  # the server itself: its wrapper then ends on its own, output complete
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        process.kill()  # nothing if it has ended
        process.wait(timeout=10)


START_TIMEOUT = 15.0


ADDRESS = re.compile(rb"ftp://127\.0\.0\.1:(\d+)")


# --- helpers shared by the fault and fuzz tests ----------------------------------------
class ServerProcess:
    """`python -m aioftp_lite serve --root ROOT --port 0 FLAGS...`; stderr goes to `log_path`."""

    def __init__(self, root: Path, log_path: Path, *flags: str, wrapper: list[str] | None = None) -> None:
        self.root = root
        self.log_path = log_path
        self.command = [*(wrapper or []), sys.executable, "-m", "aioftp_lite", "serve",
                        "--root", str(root), "--port", "0", *flags]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, preexec_fn=None) -> int:
        self.close_pipe()  # from an earlier run of the same server
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.PIPE, stderr=log, preexec_fn=preexec_fn
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline() if ready else b""
        match = ADDRESS.search(line)
        if match is None:
            self.kill()
            raise AssertionError(f"no address in {line!r}; log: {self.log_text()}")
        self.port = int(match[1])
        return self.port

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server and any --workers children it started (by their ids)."""
        if self.alive():
            assert self.process is not None
            try:
                children = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            self.process.kill()
            self.process.wait(10)
            for child in children:
                if child.is_running():
                    child.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def close_pipe(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
        self.close_pipe()


async def run_client(
    *arguments: str, cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`aioftp-lite-client ARGUMENTS` (batch mode) in its own session, bounded to 30 s; returns
    (exit status, stdout, stderr). `env` replaces the environment (ours, by default)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client", *arguments,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: nobody could type a password
        env=env if env is not None else {**os.environ, "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def client(home: Path, *arguments: str, stdin: bytes | None = None, **env: str) -> tuple[int, str, str]:
    """The client run from `home` as its HOME, with no password from our own environment."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("AIOFTP_LITE_PASSWORD", "NETRC")
    }
    environment.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), PYTHONPATH=str(PROJECT), **env)
    return await run_client(*arguments, cwd=home, stdin=stdin, env=environment)


SCRIPT = Path(sysconfig.get_path("scripts")) / "aioftp-lite"


STOP_TIMEOUT = 15.0


BANNER = re.compile(r"^aioftp-lite serving (?P<root>.+) on ftp://(?P<host>127\.0\.0\.1):(?P<port>\d+) ")


@dataclass
class Running:
    process: asyncio.subprocess.Process
    banner: str
    root: Path
    port: int

    async def stop(self, signal_number: int = signal.SIGTERM) -> tuple[int, str]:
        """Send the signal; returns the exit status and everything the server wrote on stderr."""
        self.process.send_signal(signal_number)
        _, stderr = await asyncio.wait_for(self.process.communicate(), STOP_TIMEOUT)
        assert self.process.returncode is not None
        return self.process.returncode, stderr.decode()


@asynccontextmanager
async def serve(*arguments: str, cwd: Path) -> AsyncIterator[Running]:
    """Start `aioftp-lite serve ARGUMENTS` and wait for its address line; always ends the process."""
    assert SCRIPT.exists(), f"console script missing: {SCRIPT} (pip install -e '.[test]')"
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT), "serve", *arguments, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)).decode().rstrip("\n")
        match = BANNER.match(line)
        if match is None:
            process.kill()
            _, stderr = await process.communicate()
            raise AssertionError(f"no address line: stdout {line!r}, stderr {stderr.decode()!r}")
        yield Running(process, line, Path(match["root"]), int(match["port"]))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


CLI = [sys.executable, "-m", "aioftp_lite"]


def hash_password(password: str) -> str:
    done = subprocess.run(
        [*CLI, "hash-password", "--stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("scrypt$") and password not in line
    return line
