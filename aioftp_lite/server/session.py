"""One control connection: read command lines, dispatch them, own the transfer task.

The session reads commands while a transfer runs in its own task, so ABOR and STAT
are answered mid-transfer; any other command waits until the transfer has ended,
which keeps replies in order.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..auth import Account
from ..errors import FTPError, reply_for_os_error
from ..events import DataSent, ListingDone, StorageFailed, TLSHandshake, TransferDone
from ..protocol.addresses import normalize_host
from ..protocol.commands import CommandSyntaxError, parse_command
from ..protocol.replies import Code, Reply, encode_reply
from ..storage.base import FileReader, FileWriter, Storage
from ..storage.paths import ROOT, resolve_virtual
from .control import ControlConnection, LineTooLong
from .datachannel import DataChannel, DataConnection, DataTLSRefused
from .dispatch import COMMANDS, dispatch
from .stall import StallWatch
from .state import LoginState, SecurityState, TransferParameters
from .throttle import RateLimiter
from .transfers import Progress, Transfer, download, upload
from .transfers.cleanup import finish_cleanup

if TYPE_CHECKING:
    from .context import SessionContext

log = logging.getLogger("aioftp_lite.session")

# File commands whose outcome gets a log line of its own (a transfer logs its own line instead).
LOGGED_PERMISSIONS = frozenset({"read", "write", "delete", "rename", "mkdir"})
# The verbs of transfers, by direction; other uses of the data connection are listings.
DIRECTIONS = {"RETR": "download", "STOR": "upload", "APPE": "upload", "STOU": "upload"}


def log_data_sent(event: object) -> None:
    """The event sink that writes each transfer's and listing's log line."""
    if isinstance(event, DataSent):
        log.info(
            "%s %s %s %s: %d bytes in %.3fs, %s [%s]",
            event.peer, event.user, event.verb, event.path, event.size, event.seconds, event.reply, event.strategy,
            extra={"event": event},  # its fields, for --log-format json
        )  # fmt: skip


class Session:
    # Slots: thousands of sessions sit idle at once, and a per-instance dict is about
    # 1 KiB of each one's few KiB of memory (idle_conns).
    __slots__ = (
        "_control",
        "_data",
        "_last_activity",
        "_last_reply",
        "_local_host",
        "_loop",
        "_stall_watch",
        "config",
        "context",
        "cwd",
        "data_connected",
        "login",
        "params",
        "peer",
        "peer_host",
        "quit_requested",
        "rate_limiters",
        "rename_from",
        "security",
        "shutting_down",
        "transfer",
        "transfer_progress",
    )  # fmt: skip

    def __init__(
        self,
        context: SessionContext,
        control: ControlConnection,
        peer: tuple[str, int],
    ) -> None:
        self.context = context
        self.config = context.config
        self._control = control
        self.peer_host: str = normalize_host(peer[0])
        self.peer = f"{self.peer_host}:{peer[1]}"
        # Our own address and the data channel are made when first needed: a session that
        # only logs in needs neither (one system call and two objects fewer per login).
        self._local_host: str | None = None
        self._data: DataChannel | None = None
        self.login = LoginState()
        self.params = TransferParameters()
        self.security = SecurityState(control_tls=control.is_tls)
        self.cwd = ROOT
        self.rename_from: PurePosixPath | None = None  # RNFR's path, for the RNTO that follows
        self.transfer: asyncio.Task[None] | None = None
        self.transfer_progress = Progress()  # of the current or last transfer
        self.quit_requested = False
        session_limit = RateLimiter(self.config.max_session_rate) if self.config.max_session_rate else None
        self.rate_limiters = [x for x in (session_limit, context.total_rate) if x is not None and x.rate]
        self.shutting_down = False
        self.data_connected = False  # a transfer's data connection is open
        self._stall_watch: StallWatch | None = None  # while a transfer moves data
        self._last_reply: tuple[int, str] = (0, "")
        self._loop = asyncio.get_running_loop()
        self._last_activity = self._loop.time()  # of the last command or transfer end

    @property
    def local_host(self) -> str:
        """Our address on the control connection: passive listeners open on it."""
        if self._local_host is None:
            self._local_host = normalize_host(self._control.transport.get_extra_info("sockname")[0])
        return self._local_host

    @property
    def data(self) -> DataChannel:
        if self._data is None:
            self._data = DataChannel(self.peer_host, self.config.chunk_size, proxy=self.context.proxy)
        return self._data

    # --- replies --------------------------------------------------------------------
    async def reply(self, code: int, text: str) -> None:
        self._last_reply = (code, text)
        control = self._control
        control.write(encode_reply(code, text))
        if control.must_drain:  # usually all sent at once: no drain needed
            await control.drain()  # a client that never reads replies cannot grow our buffer

    @property
    def last_reply(self) -> Reply:
        return Reply(*self._last_reply)

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade the control connection (after the 234 reply to AUTH TLS)."""
        try:
            await self._control.start_tls(context, self.config.data_timeout or None)
        except (OSError, TimeoutError) as error:
            self.context.events.emit(TLSHandshake(self.peer, False, str(error) or "timed out"))
            raise
        self.context.events.emit(TLSHandshake(self.peer, True))
        self.security.control_secured()

    def storage_failed(self, error: OSError, reply: Reply) -> None:
        """An OSError became `reply`: a failure of the server's side (451, 452), not a missing
        file or a refused path (550), is an event (metrics count it by backend)."""
        if reply.code != Code.FILE_UNAVAILABLE and self.login.storage is not None:
            backend = type(self.login.storage).__name__.removesuffix("Storage").lower() or "custom"
            self.context.events.emit(StorageFailed(self.peer, self._user, backend, str(error)))

    # --- paths ----------------------------------------------------------------------
    def resolve(self, argument: str) -> PurePosixPath:
        return resolve_virtual(self.cwd, argument)

    def resolve_new_name(self, argument: str) -> PurePosixPath:
        """A path that a command is about to create (STOR, MKD, RNTO ...): not a name the
        backend keeps for itself (the local disk's uploads in progress)."""
        path = self.resolve(argument)
        reason = self.fs.reserved_name(path.name)
        if reason is not None:
            raise FTPError(Code.BAD_FILE_NAME, reason)
        return path

    @property
    def fs(self) -> Storage:
        storage = self.login.storage
        assert storage is not None, "handlers that touch files need a login"
        return storage

    def log_in(self, account: Account) -> None:
        self.login.complete(account, self.context.storage_for(account))
        self.cwd = ROOT

    # --- the command loop -----------------------------------------------------------
    async def run(self) -> None:
        log.info("%s connected", self.peer)
        try:
            await self.reply(Code.SERVICE_READY, self.config.banner)
            while not self.quit_requested:
                line = await self._next_line()
                if line is None:
                    break
                self._last_activity = self._loop.time()
                await self._handle_line(line)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self._close()

    async def _next_line(self) -> bytes | None:
        """The next command line, or None at end of stream (or after an idle timeout)."""
        while True:
            try:
                return await self._control.readline()
            except LineTooLong:
                # Answer now: a client may never send the newline it owes us.
                await self.reply(Code.SYNTAX_ERROR, "Command line too long")

    # --- idle and data timeouts ----------------------------------------------------
    def check_timeouts(self, now: float) -> None:
        """421 and close after idle_timeout seconds without a command; a session whose
        transfer runs is not idle, but its transfer ends (426) after data_timeout seconds
        without progress. The server's sweep calls this (server.py)."""
        if self.transfer is not None and not self.transfer.done():
            self._cut_if_stalled(now)
            return
        if not self.config.idle_timeout:
            return
        if now - self._last_activity < self.config.idle_timeout or self._control.closing:
            return
        log.info("%s %s idle for %ss, closing", self.peer, self._user, self.config.idle_timeout)
        self._end_connection(Reply(Code.SERVICE_UNAVAILABLE, "Idle timeout, closing control connection"))

    def _cut_if_stalled(self, now: float) -> None:
        watch, limit = self._stall_watch, self.config.data_timeout
        if watch is None or not limit or watch.fired or watch.still_for(now) < limit:
            return
        watch.fired = True
        assert self.transfer is not None
        self.transfer.cancel()  # the transfer answers 426 and stays the session's to wait for

    def _end_connection(self, goodbye: Reply) -> None:
        """Say goodbye and close; the command loop then sees the end of the stream."""
        self._control.say_goodbye(goodbye.encode())

    async def _handle_line(self, line: bytes) -> None:
        try:
            cmd = parse_command(line)
        except CommandSyntaxError as error:
            await self.reply(Code.SYNTAX_ERROR, f"Syntax error: {error}")
            return
        log.debug("%s %s", self.peer, cmd)
        spec = COMMANDS.get(cmd.verb)
        if self.transfer is not None and not (spec and spec.during_transfer):
            await self.wait_transfer()
        transfer_before = self.transfer
        await dispatch(self, cmd)
        if spec and spec.permission in LOGGED_PERMISSIONS and self.transfer is transfer_before:
            log.info("%s %s %s: %s", self.peer, self._user, cmd, self.last_reply)

    # --- transfers ------------------------------------------------------------------
    def download(self, source: FileReader) -> Transfer:
        """Sending `source` to the client, as this session's TYPE, PROT and limits have it."""
        return download(
            source, ascii_mode=self.params.ascii_mode, tls=self.security.protect_data,
            limiters=self.rate_limiters, sendfile_allowed=self.config.use_sendfile,
        )  # fmt: skip

    def upload(self, target: FileWriter) -> Transfer:
        """Receiving the client's bytes into `target`, committed only if the client stayed."""
        return upload(
            target, ascii_mode=self.params.ascii_mode, tls=self.security.protect_data,
            limiters=self.rate_limiters, chunk_size=self.config.chunk_size, confirm=self.client_still_there,
        )  # fmt: skip

    def start_transfer(self, opening: str, transfer: Transfer, verb: str, path: PurePosixPath) -> None:
        """Send 150, open the data connection and run `transfer` in a task ABOR can cancel."""
        self.params.restart_offset = 0
        self.transfer_progress = Progress()
        self.transfer = asyncio.create_task(self._run_transfer(opening, transfer, verb, path))
        self.transfer.add_done_callback(self._transfer_ended)

    def _transfer_ended(self, _task: asyncio.Task[None]) -> None:
        self.data_connected = False
        if self.shutting_down:
            self._end_for_shutdown()
        else:
            self._last_activity = asyncio.get_running_loop().time()  # a fresh idle period

    async def _run_transfer(self, opening: str, transfer: Transfer, verb: str, path: PurePosixPath) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        connection: DataConnection | None = None
        moved = 0
        end_session = False
        try:
            if self.config.require_tls and not self.security.protect_data:
                raise FTPError(
                    Code.PROTECTION_REQUIRED,
                    "Data connections must be protected: send PBSZ 0 and PROT P first",
                )
            if not self.data.is_pending:  # 425 at once, as vsftpd does, rather than 150 then 425
                raise FTPError(Code.CANT_OPEN_DATA, "Use PORT, EPRT, PASV or EPSV first")
            await self.reply(Code.FILE_STATUS_OK, opening)
            # The control connection's own context: data connections resume its session (tls.py).
            tls = self._control.transport.get_extra_info("sslcontext") if self.security.protect_data else None
            connection = await self.data.open(self.config.data_timeout or None, tls, transfer.receiver)
            self.data_connected = True
            self._stall_watch = StallWatch(self.transfer_progress, connection, loop.time())
            moved = await transfer.run(connection, self.transfer_progress)
            self._stall_watch = None  # the data has moved: closing is bounded on its own
            await connection.close()
            reply = Reply(Code.CLOSING_DATA, f"Transfer complete ({moved} bytes)")
        except asyncio.CancelledError:
            if self._stall_watch is not None and self._stall_watch.fired:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]  # our own cut: carry on
                reply = Reply(
                    Code.TRANSFER_ABORTED,
                    f"No data moved for {self.config.data_timeout:g} seconds; transfer aborted",
                )
            else:
                reply = Reply(Code.TRANSFER_ABORTED, "Transfer aborted")
        except FTPError as error:
            reply = error.reply
            end_session = isinstance(error, DataTLSRefused)  # as vsftpd does: see tls.py
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            reply = Reply(Code.TRANSFER_ABORTED, "Data connection lost; transfer aborted")
        except OSError as error:
            reply = reply_for_os_error(error)
            self.storage_failed(error, reply)
        finally:
            stalled = self._stall_watch is not None and self._stall_watch.fired
            self._stall_watch = None
            if connection is not None:
                connection.abort(reset=stalled)  # no-op after a clean close
            await finish_cleanup(transfer.cleanup)
        elapsed = loop.time() - started
        moved = max(moved, self.transfer_progress.moved)  # a cut transfer returned nothing
        self._transfer_finished(verb, path, moved, elapsed, reply, transfer.strategy.value)
        if end_session:
            self._end_connection(reply)
            return
        try:
            await self.reply(reply.code, reply.text)
        except ConnectionError:
            pass

    def _transfer_finished(
        self, verb: str, path: PurePosixPath, moved: int, elapsed: float, reply: Reply, strategy: str
    ) -> None:
        code = reply.code
        result = (
            "ok" if code == Code.CLOSING_DATA else "aborted" if code == Code.TRANSFER_ABORTED else "failed"
        )
        args = (self.peer, self._user, verb, str(path), moved, elapsed, result, str(reply), strategy)
        direction = DIRECTIONS.get(verb)
        if direction is None:
            self.context.events.emit(ListingDone(*args))
            return
        account = self.login.account
        anonymous = account is not None and account.anonymous
        self.context.events.emit(TransferDone(*args, direction, self.params.ascii_mode, anonymous))

    async def wait_transfer(self) -> None:
        if self.transfer is not None:
            if not self.transfer.done():  # usually it is: the client waited for its reply
                await asyncio.wait([self.transfer])  # not `await`: that would cancel it with us
            self.transfer = None

    async def abort_transfer(self) -> bool:
        """Cancel the running transfer (it replies 426); False if there was none."""
        task, self.transfer = self.transfer, None
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.wait([task])
        return True

    @property
    def client_hung_up(self) -> bool:
        """The client closed its end of the control connection: no command will follow."""
        return self._control.eof_seen

    async def client_still_there(self) -> bool:
        """Before committing an upload: did the client vanish rather than finish?

        A client that disconnects sends FIN on both connections; a data EOF alone
        looks like a finished upload. Let pending socket events arrive, then check
        whether the control connection closed without a QUIT.
        """
        for _ in range(2):
            await asyncio.sleep(0)
        return self.quit_requested or not self._control.at_eof()

    # --- shutdown -------------------------------------------------------------------
    def begin_shutdown(self) -> None:
        """End the session now if idle (421), else as soon as its transfer ends."""
        self.shutting_down = True
        if self.transfer is None or self.transfer.done() or not self.data_connected:
            self._end_for_shutdown()
        # Otherwise the transfer's done-callback calls _end_for_shutdown after its reply.

    def _end_for_shutdown(self) -> None:
        self._end_connection(Reply(Code.SERVICE_UNAVAILABLE, "Server shutting down"))

    async def _close(self) -> None:
        if self.transfer is not None:
            await self.abort_transfer()
        if self._data is not None:
            self._data.close()
        await self._control.close(timeout=1.0)
        log.info("%s %s disconnected", self.peer, self._user)

    @property
    def _user(self) -> str:
        return self.login.user_name
