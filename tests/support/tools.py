"""Third-party command-line clients (curl, lftp, tmux), each run as a subprocess with a time bound."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.support.clients import PASSWORD, USER

CURL = shutil.which("curl")


CURL_TIMEOUT = 30.0


async def curl(*arguments: str, user: str | None = None, timeout: float = CURL_TIMEOUT) -> str:
    """Run curl, fail the test with its stderr if it fails; return its stdout."""
    assert CURL is not None
    # -q first: ignore any ~/.curlrc; no proxy from the environment may reroute ftp://.
    command = [CURL, "-q", "--silent", "--show-error", "--noproxy", "*", "--max-time", str(int(timeout))]
    if user is not None:
        command += ["--user", user]
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = await asyncio.create_subprocess_exec(
        *command, *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout + 5)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"curl did not finish within {timeout + 5} s: {arguments}") from None
    assert process.returncode == 0, f"curl {arguments} exited {process.returncode}: {stderr.decode()!r}"
    return stdout.decode("utf-8")


LFTP = shutil.which("lftp")


LFTP_TIMEOUT = 60.0


async def lftp(port: int, script: str, home: Path, user: str = USER, password: str = PASSWORD) -> str:
    """Run `lftp -c` against the server; fail the test with lftp's stderr if it fails."""
    assert LFTP is not None
    settings = (
        "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1"
    )
    login = f"open -u '{user},{password}' ftp://127.0.0.1:{port}"
    # UTF-8 locale so local non-ASCII names are handled as text; HOME keeps lftp's
    # history and cache files out of the real home; no proxy from the environment.
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(LC_ALL="C.UTF-8", HOME=str(home))
    process = await asyncio.create_subprocess_exec(
        LFTP, "-c", f"{settings}; {login}; {script}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment, cwd=home,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), LFTP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"lftp did not finish within {LFTP_TIMEOUT} s: {script}") from None
    assert process.returncode == 0, f"lftp {script!r} exited {process.returncode}: {stderr.decode()!r}"
    assert not stderr.strip(), stderr.decode()  # mirror reports failed files on stderr
    return stdout.decode("utf-8")


class Tmux:
    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name
        self.socket_path: Path | None = None

    async def start(self, *arguments: str) -> None:
        await self("new-session", "-d", "-s", "repl", *arguments)
        self.socket_path = Path((await self("display-message", "-p", "#{socket_path}")).strip())

    async def stop(self) -> None:
        """Kill our private tmux server if it still runs, and remove its socket file."""
        if await self.alive():
            await self("kill-server")
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    async def __call__(self, *arguments: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "tmux", "-L", self.socket_name, "-f", "/dev/null", *arguments,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 10)
        if process.returncode:
            raise RuntimeError(f"tmux {' '.join(arguments)}: {err.decode().strip()}")
        return out.decode()

    async def screen(self) -> str:
        return await self("capture-pane", "-p", "-t", "repl")

    async def wait_for(self, condition: Callable[[str], bool], timeout: float = 10.0) -> str:
        screen = ""
        try:
            async with asyncio.timeout(timeout):
                while not condition(screen := await self.screen()):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the screen never showed what was expected:\n{screen}") from None
        return screen

    async def alive(self) -> bool:
        try:
            await self("has-session", "-t", "repl")
        except RuntimeError:
            return False
        return True
