"""The shell: connection state, and running command lines with one clear line per error.

Both front ends drive it: the interactive REPL (`repl.py`) and batch mode (`batch.py`).
It holds the FTP client, the remote and local folders, and the listing cache, and
turns every failure into one line: the server's reply, or what went wrong locally.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from aioftp_lite import FTPClient, FTPConnectionLost, FTPReplyError
from aioftp_lite.ftpclient import FTPTLSError

from . import remote_paths
from .accounts import from_netrc
from .background import Jobs
from .cache import ListingCache
from .commands import lookup
from .errors import ShellError
from .jobs import check_background
from .progress import Progress, TextSink
from .registry import TABLE
from .target import DEFAULT_PORT, Target, TargetError
from .words import WordError, split_commands

PasswordPrompt = Callable[[str], Awaitable[str]]
# A listing older than this is refreshed in the background when completion reads it, so
# names someone else added or removed show up (the stale copy answers meanwhile).
REFRESH_AFTER = 5.0
RECONNECT_DELAYS = (0.5, 1.0, None)  # seconds between tries: three tries in all


def write_line(text: str, stream: TextSink) -> None:
    stream.write(text + "\n")
    stream.flush()


class Shell:
    def __init__(self, *, out: TextSink, err: TextSink, local_dir: Path | None = None,
                 show_progress: bool = False, ask_password: PasswordPrompt | None = None, timeout: float = 30.0,
                 passive: bool = True, tls_context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.out = out
        self.err = err
        self.local_dir = (local_dir or Path.cwd()).resolve()
        self.show_progress = show_progress
        self.ask_password = ask_password
        self.timeout = timeout
        self.passive = passive
        self.tls_context = tls_context  # for ftpes:// targets; None: verify against the system CAs
        self.client: FTPClient | None = None
        self.target: Target | None = None  # the last server tried: a bare `open` goes back to it
        self.target_reached = False  # whether that try got us logged in
        self.dropped = False  # the connection broke without `close`: the next command reconnects
        self.auto_reconnect = True
        self.remote_cwd = "/"
        self.cache = ListingCache(max_age=REFRESH_AFTER)
        self.verbs = TABLE
        self.transfer_state = "idle"  # for the toolbar: idle, the running transfer, the last one
        self.finished = False  # `quit` was typed
        self.interruption = ""  # what a command cancelled by Ctrl-C had done, for its one line
        self.error_prefix = ""  # batch mode names the program in its error lines
        self.chatty = True  # say "connected to ..." (batch mode keeps stdout for results)
        self.prefetch = True  # keep listings fresh for completion (batch mode has no use for them)
        self._closing: set[asyncio.Task[None]] = set()
        self.jobs = Jobs(self, check_background)
        self.progress: Progress | None = None  # the running transfer's, for `jobs` and the toolbar
        self.parent: Shell | None = None  # a background job's shell: the shell that started it
        # Asked before leaving with jobs running (the REPL); None: wait for them (batch mode).
        self.confirm: Callable[[str], Awaitable[bool]] | None = None
        # Writes a line that may come while the prompt is up (a background job's, to `out` or
        # `err`); the REPL sets one that prints it above the prompt.
        self.write_notice: Callable[[str, TextSink], None] = write_line

    # --- state ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def require_client(self) -> FTPClient:
        if self.client is None:
            raise ShellError("not connected (use `open HOST` or `open ftp://user@host`)")
        if not self.client.connected:  # it broke between commands (a background listing saw it)
            where = f"{self.client.host}:{self.client.port}"
            raise FTPConnectionLost(self.cache.lost or f"Connection to {where} lost")
        return self.client

    def remote(self, path: str) -> str:
        """An argument as an absolute remote path (for the cache and for messages)."""
        return remote_paths.absolute(self.remote_cwd, path)

    def local(self, path: str) -> Path:
        """An argument as a local path, from the local folder (`lcd`), with ~ expanded."""
        return self.local_dir / os.path.expanduser(path)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def notify(self, text: str) -> None:
        """A line that comes while the prompt may be up (a background job's)."""
        self.write_notice(text, self.out)

    def notify_error(self, text: str) -> None:
        self.write_notice(text, self.err)

    def prompt_text(self) -> str:
        if self.client is None or self.target is None:
            return "ftp> "
        return f"{self.target.display()}:{self.remote_cwd}> "

    # --- running lines -------------------------------------------------------------
    async def execute(self, line: str) -> bool:
        """Run a line of `;`-separated commands; stop at the first failure. True if all succeeded."""
        if line.lstrip().startswith("!"):  # a local shell command: the whole line, `;` and quotes too
            command = line.lstrip()[1:].strip()
            return await self.guarded(line.strip(), self._dispatch(["!", command] if command else ["!"]))
        try:
            commands = split_commands(line)
        except WordError as error:
            self.report(line.strip(), str(error))
            return False
        for words in commands:
            if not await self.run(words):
                return False
            if self.finished:
                break
        return True

    async def run(self, words: list[str]) -> bool:
        """One command; its error, if any, is reported as one line on `err`."""
        return await self.guarded(" ".join(words), self._dispatch(words))

    async def _dispatch(self, words: list[str]) -> None:
        if len(words) > 1 and words[-1] == "&":
            self.require_client()
            await self.jobs.start(words[:-1])
            return
        declared = lookup(words[0])
        if declared is None:
            close = difflib.get_close_matches(words[0].lower(), self.verbs, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ShellError(f"unknown command {words[0]!r} ({hint}type `help` for the list)")
        call = declared.parse(words[0], words[1:])
        if declared.needs_connection:
            if self.auto_reconnect and self.broken:
                await self._reconnect_before()
            self.require_client()
        try:
            await declared.handler(self, call)
        except (FTPConnectionLost, FTPReplyError) as error:
            if declared.retry is None or not self.auto_reconnect or not await self._cut_off(error):
                raise
            # A transfer cut by a lost connection: reconnect, then go on (get -c, pget, mirror).
            self.report(" ".join(words), f"{error}: reconnecting to resume")
            self.forget_connection()
            self.dropped = True
            await self.reconnect()
            flags = call.flags | {declared.retry} if declared.retry else call.flags
            await declared.handler(self, dataclasses.replace(call, flags=frozenset(flags)))

    async def _cut_off(self, error: Exception) -> bool:
        """Whether `error` means the connection went away (a 421, or a 426 with the control
        connection gone too, as when a server shuts down mid-transfer)."""
        if not self.target_reached:
            return False
        if isinstance(error, FTPConnectionLost):
            return True
        if not isinstance(error, FTPReplyError) or error.code not in (421, 426):
            return False
        client = self.client
        if error.code == 421 or client is None or not client.connected:
            return True
        try:
            await client.command("NOOP")
        except FTPConnectionLost:
            return True
        except FTPReplyError:
            return False
        return False

    @property
    def broken(self) -> bool:
        """The connection broke (we did not close it): the next command reconnects."""
        if self.client is not None:
            return not self.client.connected
        return self.dropped

    async def _reconnect_before(self) -> None:
        """Reconnect before a command; if that fails, say what was lost first."""
        client = self.client
        where = (
            f"{client.host}:{client.port}" if client is not None else self.target and self.target.display()
        )
        lost = self.cache.lost or f"Connection to {where} lost"
        try:
            await self.reconnect()
        except FTPConnectionLost as error:
            raise FTPConnectionLost(f"{lost}; could not reconnect: {error}") from None

    async def reconnect(self) -> None:
        """Back to the last server, in the folder we were in; a few tries, as a server restarts."""
        target = self.reconnect_target()
        if target is None:
            raise ShellError("no server to reconnect to: open HOST or open ftp://user@host")
        if self.chatty:
            self.print(f"reconnecting to {target.display()}…")
        for delay in RECONNECT_DELAYS:
            try:
                await self.open(target)
                return
            except FTPConnectionLost:
                self.dropped = True
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def keep_alive(self, interval: float) -> None:
        """While idle, a NOOP every `interval` seconds notices a dropped connection (the toolbar
        then says so) and keeps servers and firewalls from closing an idle one."""
        while True:
            await asyncio.sleep(interval)
            client = self.client
            if client is None or not client.connected or client.busy or not self.cache.idle.is_set():
                continue
            try:
                await client.command("NOOP")
            except FTPConnectionLost:
                self.dropped = True
            except (FTPReplyError, OSError, TimeoutError):
                pass

    async def guarded(self, shown: str, work: Awaitable[None]) -> bool:
        """Run `work`, turning any failure into one line on `err`; True if it succeeded."""
        self.interruption = ""
        self.cache.idle.clear()  # the background lister waits until we are done
        try:
            await work
            return True
        except (ShellError, TargetError) as error:
            self.report(shown, str(error))
        except FTPReplyError as error:
            self.report(shown, str(error))
        except FTPConnectionLost as error:
            self.connection_lost(shown, error)
        except TimeoutError as error:
            self.report(shown, str(error) or "timed out")
        except OSError as error:  # local files
            self.report(shown, describe_os_error(error))
        except asyncio.CancelledError:
            self.report(shown, self.interruption or "interrupted")
            raise
        except Exception as error:  # noqa: BLE001 - the REPL stays up, whatever happened
            self.report(shown, f"unexpected error: {type(error).__name__}: {error}")
        finally:
            self.cache.idle.set()
        return False

    def report(self, command: str, reason: str) -> None:
        reason = " ".join(reason.split())  # a multi-line server reply still makes one line
        where = f"{command}: " if command else ""
        self.err.write(f"{self.error_prefix}{where}{reason}\n")
        self.err.flush()

    def connection_lost(self, command: str, error: BaseException) -> None:
        was_connected = self.client is not None
        self.dropped = self.dropped or (was_connected and self.target_reached)
        hint = " (type `open` to reconnect)" if (was_connected or self.dropped) and self.chatty else ""
        self.report(command, f"{error}{hint}")
        self.forget_connection()

    def forget_connection(self) -> None:
        self.cache.detach()
        if self.client is not None:
            client, self.client = self.client, None
            closing = asyncio.get_running_loop().create_task(client.close())
            self._closing.add(closing)  # held until done, so the task is not garbage-collected
            closing.add_done_callback(self._closing.discard)

    # --- connecting ----------------------------------------------------------------
    async def open(self, target: Target) -> None:
        """Connect, log in and enter the target's folder; the old connection, if any, is closed.

        The target is remembered even when this fails, so a bare `open` tries it again (asking
        again for a password the server refused), never an older server or password.
        """
        await self.disconnect()
        target = from_netrc(target)
        password = target.password
        self.target, self.target_reached = target, False
        if target.needs_password:
            if self.ask_password is None:
                raise ShellError(f"a password is needed for {target.display()} (put it in the URL)")
            password = await self.ask_password(f"Password for {target.display()}: ")
        client = self._new_client(target)
        try:
            await client.connect()
        except FTPConnectionLost as error:
            await client.close()
            self.target = dataclasses.replace(target, password=password)
            hint = _port_hint(target)
            if not hint or isinstance(error, FTPTLSError) or error.reply is not None:
                raise
            raise FTPConnectionLost(f"{error}{hint}") from None
        try:
            await self._login(client, target, password)
            home = await client.pwd()
        except BaseException as error:
            await client.close()
            refused = isinstance(error, FTPReplyError) and error.code == 530
            self.target = dataclasses.replace(target, password=None if refused else password)
            raise
        self.client, self.remote_cwd = client, home
        self.target = Target(target.host, target.port, target.user, password, home, target.secure)
        self.target_reached, self.dropped = True, False
        if self.prefetch:
            self.cache.attach(client)
        try:
            if target.path:  # a folder that is gone is reported, but the login stays
                await client.cwd(target.path)
                self.remote_cwd = await client.pwd()
        finally:
            self.cache.request(self.remote_cwd)  # so the first Tab has names to offer
        if self.chatty:
            self.print(f"connected to {target.display()} as {target.login_user}, in {self.remote_cwd}")

    def _new_client(self, target: Target) -> FTPClient:
        tls: bool | ssl.SSLContext = (self.tls_context or True) if target.secure else False
        return FTPClient(target.host, target.port, timeout=self.timeout, passive=self.passive, tls=tls)

    @staticmethod
    async def _login(client: FTPClient, target: Target, password: str | None) -> None:
        anonymous = target.user in (None, "anonymous", "ftp")
        await client.login(user=target.login_user, password=password or ("anonymous@" if anonymous else ""))

    async def connect_again(self) -> FTPClient:
        """One more connection to the server we are logged in to, in the same remote folder
        (for parallel transfers); the caller closes it."""
        self.require_client()
        assert self.target is not None
        client = self._new_client(self.target)
        try:
            await client.connect()
            await self._login(client, self.target, self.target.password)
            await client.cwd(self.remote_cwd)
        except BaseException:
            await client.close()
            raise
        return client

    async def spawn(self, out: TextSink, err: TextSink) -> Shell:
        """A child shell for a background job: this one's settings, server and folders, on a
        connection of its own; its lines go to `out` and `err`."""
        child = Shell(out=out, err=err, local_dir=self.local_dir, timeout=self.timeout, passive=self.passive,
                      tls_context=self.tls_context)  # fmt: skip
        child.chatty, child.prefetch, child.parent = False, False, self
        child.client = await self.connect_again()
        child.target, child.target_reached, child.remote_cwd = self.target, True, self.remote_cwd
        return child

    def reconnect_target(self) -> Target | None:
        """What a bare `open` opens: the last server tried, back in the folder we were in."""
        if self.target is None or not self.target_reached:
            return self.target
        return dataclasses.replace(self.target, path=self.remote_cwd)

    async def disconnect(self) -> None:
        client, self.client = self.client, None
        self.dropped = False
        self.cache.detach()
        if client is None:
            return
        try:
            if client.connected:
                await client.quit()
        except (FTPReplyError, FTPConnectionLost, OSError):
            pass
        finally:
            await client.close()

    async def close(self) -> None:
        await self.jobs.stop_all()
        await self.disconnect()
        await self.cache.close()

    async def is_remote_folder(self, path: str) -> bool:
        """Whether `path` names a remote folder: try to enter it (and come back)."""
        client = self.require_client()
        try:
            await client.cwd(path)
        except FTPReplyError:
            return False
        await client.cwd(self.remote_cwd)
        return True

    def changed(self, *paths: str) -> None:
        """Our own command changed these remote paths: their folders' listings are out of date."""
        if self.parent is not None:  # a job's changes matter to the shell at the prompt
            self.parent.changed(*(self.remote(path) for path in paths))
        for path in paths:
            self.cache.invalidate(remote_paths.absolute(self.remote(path), ".."))


def describe_os_error(error: OSError) -> str:
    """A local error as one line: `no such file or directory: /tmp/x`."""
    reason = (error.strerror or str(error) or type(error).__name__).lower()
    if error.filename:
        return f"{reason}: {error.filename}"
    return reason


def _port_hint(target: Target) -> str:
    """Nothing on port 21 is often a server on another port, such as our own on 2121."""
    if target.port != DEFAULT_PORT:
        return ""
    return " (`aioftp-lite serve` listens on 2121 by default: add -p 2121, or HOST:2121)"
