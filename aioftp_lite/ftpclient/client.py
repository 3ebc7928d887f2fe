"""FTPClient: the public async client API (see the package docstring for the contract)."""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import BinaryIO, Self, TypeVar

from ..protocol.listing import format_mdtm, parse_mdtm
from ..protocol.replies import Code, Reply
from .data import DataConnection, DataModes, PendingData, prepare_active, prepare_passive
from .errors import FTPConnectionLost, FTPReplyError, FTPTLSError
from .listing import RemoteEntry, decode_lines, entries_from_list, entries_from_mlsd
from .lock import CommandLock
from .secure import DataTLS, client_tls_context
from .session import ControlConnection
from .transfers import DownloadTarget, Progress, receive_all, receive_to_file, run_transfer, send_from_file


def parse_quoted_path(text: str) -> str | None:
    """The path in a 257 reply: `"/a ""quoted"" dir" created` -> `/a "quoted" dir` (RFC 959 App. II)."""
    start = text.find('"')
    if start < 0:
        return None
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            if text[index + 1 : index + 2] == '"':
                chars.append('"')
                index += 2
                continue
            return "".join(chars)
        chars.append(char)
        index += 1
    return None


def parse_features(reply: Reply) -> dict[str, str]:
    """FEAT reply -> {"MLST": "type*;size*;", "UTF8": "", "REST": "STREAM", ...}."""
    features: dict[str, str] = {}
    for line in reply.lines[1:-1]:
        name, _, parameters = line.strip().partition(" ")
        if name:
            features[name.upper()] = parameters.strip()
    return features


class FTPClient:
    """An FTP client session over asyncio streams; never prints.

    async with FTPClient("127.0.0.1", 2121, user="alice", password="pw") as client:
        entries = await client.list()
    """

    def __init__(
        self,
        host: str,
        port: int = 21,
        *,
        timeout: float = 30.0,
        passive: bool = True,
        user: str = "anonymous",
        password: str = "anonymous@",
        use_mlsd: bool | None = None,
        tls: bool | ssl.SSLContext = False,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        # Explicit FTPS (RFC 4217) when set: AUTH TLS on connect, PBSZ 0 + PROT P on login.
        self.tls_context = client_tls_context(tls)
        self.passive = passive
        self.user = user
        self._password = password
        # None: MLSD if FEAT announces MLST; False: always LIST (parsed); True: always MLSD.
        self.use_mlsd = use_mlsd
        self.lock: asyncio.Lock = CommandLock()
        self.features: dict[str, str] = {}
        self.greeting: Reply | None = None
        self._control: ControlConnection | None = None
        self._modes = DataModes()
        self._type: str | None = None  # the TYPE last set on this connection
        self._protect_data = False  # PROT P accepted: data connections use TLS

    # --- state ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._control is not None and self._control.connected

    @property
    def secure(self) -> bool:
        """The control connection runs over TLS (FTPS)."""
        return self._control is not None and self._control.secure

    @property
    def busy(self) -> bool:
        """A command (or a task holding the lock) is running."""
        return self.lock.locked()

    def _ctl(self) -> ControlConnection:
        if self._control is None or not self._control.connected:
            raise FTPConnectionLost(f"Not connected to {self.host}:{self.port}")
        return self._control

    # --- connection -----------------------------------------------------------------
    async def connect(self) -> Reply:
        """Open the control connection and read the greeting (220); with `tls`, AUTH TLS
        and the TLS handshake follow before anything else is sent."""
        async with self.lock:
            if self._control is not None:
                self._control.drop()
            control = ControlConnection(self.host, self.port, self.timeout)
            self._control, self._modes, self._type, self.features = control, DataModes(), None, {}
            self._protect_data = False
            self.greeting = await control.open()
            if self.tls_context is not None:
                await self._secure_control(control, self.tls_context)
            return self.greeting

    async def _secure_control(self, control: ControlConnection, context: ssl.SSLContext) -> None:
        """AUTH TLS, then the handshake. A refusal is an error: never a quiet fall back to
        plain text, which would send the password in the clear."""
        try:
            reply = await control.execute("AUTH", "TLS")
        except FTPReplyError as error:
            await control.close()
            why = f"{error.reply.text} (the server refused AUTH TLS: it offers no FTPS here)"
            raise FTPReplyError(Reply(error.code, why)) from None
        if reply.code != Code.AUTH_OK:
            await control.close()
            raise FTPTLSError(f"Unexpected answer to AUTH TLS from {control.where}: {reply}")
        await control.start_tls(context)

    async def login(self, user: str | None = None, password: str | None = None, account: str = "") -> Reply:
        """USER/PASS (and ACCT if asked); then FEAT, and OPTS UTF8 ON where offered."""
        user = self.user if user is None else user
        password = self._password if password is None else password
        async with self.lock:
            control = self._ctl()
            reply = await control.execute("USER", user)
            if reply.code == Code.NEED_PASSWORD:
                reply = await control.execute("PASS", password)
            if reply.code == Code.NEED_ACCOUNT:
                reply = await control.execute("ACCT", account)
            if reply.code != Code.LOGGED_IN and reply.code != Code.NOT_NEEDED:
                raise FTPReplyError(reply)
            self.user, self._password = user, password
            await self._learn_features(control)
            if control.secure:
                await self._protect_data_connections(control)
            return reply

    async def _protect_data_connections(self, control: ControlConnection) -> None:
        """PBSZ 0 and PROT P (RFC 4217 8-9): data connections get TLS too, or we stop here."""
        try:
            await control.execute("PBSZ", "0")
            await control.execute("PROT", "P")
        except FTPReplyError as error:
            await control.close()  # we will not move files in the clear: this session is over
            why = f"{error.reply.text} (the server refused to protect data connections with TLS)"
            raise FTPReplyError(Reply(error.code, why)) from None
        self._protect_data = True

    async def _learn_features(self, control: ControlConnection) -> None:
        try:
            self.features = parse_features(await control.execute("FEAT"))
        except FTPReplyError:
            self.features = {}  # an RFC 959-only server
        if "UTF8" in self.features:
            try:
                await control.execute("OPTS", "UTF8 ON")
            except FTPReplyError:
                pass  # names stay UTF-8 on our side either way
        offered = [fact for fact in self.features.get("MLST", "").split(";") if fact]
        if any(not fact.endswith("*") for fact in offered):  # e.g. pyftpdlib leaves unix.mode off
            try:  # every fact the server offers, so that `ls -l` can show modes and owners
                await control.execute("OPTS", "MLST " + "".join(fact.rstrip("*") + ";" for fact in offered))
            except FTPReplyError:
                pass

    async def quit(self) -> None:
        """Say goodbye (QUIT) and close; never raises for a connection already gone."""
        if not self.connected:
            await self.close()
            return
        try:
            async with self.lock:
                await self._ctl().execute("QUIT")
        except (FTPReplyError, FTPConnectionLost):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the control connection at once; never raises."""
        control, self._control = self._control, None
        if control is not None:
            await control.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        try:
            await self.login()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.quit()

    # --- simple commands ------------------------------------------------------------
    async def _execute(self, verb: str, argument: str = "") -> Reply:
        async with self.lock:
            return await self._ctl().execute(verb, argument)

    async def command(self, line: str) -> Reply:
        """Send a raw command line; its final reply, or FTPReplyError for 4xx/5xx."""
        verb, _, argument = line.strip().partition(" ")
        if verb.upper() == "TYPE":
            self._type = None  # no longer sure which TYPE is in force
        return await self._execute(verb, argument)

    async def pwd(self) -> str:
        reply = await self._execute("PWD")
        path = parse_quoted_path(reply.text)
        if path is None:
            raise FTPReplyError(Reply(reply.code, f"{reply.text} (no quoted path in the reply)"))
        return path

    async def cwd(self, path: str) -> None:
        await self._execute("CWD", path)

    async def cdup(self) -> None:
        await self._execute("CDUP")

    async def delete(self, path: str) -> None:
        await self._execute("DELE", path)

    async def mkdir(self, path: str) -> str:
        """Create a folder; returns the path the server reports (or `path`)."""
        reply = await self._execute("MKD", path)
        return parse_quoted_path(reply.text) or path

    async def rmdir(self, path: str) -> None:
        await self._execute("RMD", path)

    async def rename(self, source: str, target: str) -> None:
        async with self.lock:
            control = self._ctl()
            await control.execute("RNFR", source)
            await control.execute("RNTO", target)

    async def size(self, path: str) -> int:
        async with self.lock:
            control = self._ctl()
            await self._binary(control)  # SIZE in ASCII mode is refused or differs on some servers
            reply = await control.execute("SIZE", path)
        return _number_in(reply, int)

    async def mtime(self, path: str) -> float:
        """Modification time (MDTM, UTC) as seconds since the epoch."""
        reply = await self._execute("MDTM", path)
        return _number_in(reply, parse_mdtm)

    async def set_mtime(self, path: str, mtime: float) -> None:
        """Set a file's modification time (MFMT, draft-somers-ftp-mfxx; whole seconds, UTC).
        FTPReplyError if the server has no MFMT (see `"MFMT" in client.features`)."""
        await self._execute("MFMT", f"{format_mdtm(mtime)} {path}")

    async def _binary(self, control: ControlConnection) -> None:
        if self._type != "I":
            await control.execute("TYPE", "I")
            self._type = "I"

    # --- data transfers -------------------------------------------------------------
    def _prepare(self, control: ControlConnection) -> Callable[[], Awaitable[PendingData]]:
        opener = prepare_passive if self.passive else prepare_active
        return lambda: opener(control, self._modes, self._data_tls(control))

    def _data_tls(self, control: ControlConnection) -> DataTLS | None:
        if self.tls_context is None:
            return None
        if not self._protect_data:  # e.g. USER/PASS sent through command(): still no PROT P
            raise ConnectionError("FTPS: data connections are not protected yet (log in with login())")
        # Taken at each transfer: with TLS 1.3 the resumable session (its ticket) arrives after
        # the handshake, and a server may renew it.
        return DataTLS(self.tls_context, self.host, control.tls_session)

    async def _fetch_listing(self, verb: str, path: str) -> list[str]:
        raw = bytearray()

        async def body(data: DataConnection) -> int:
            return await receive_all(data, raw)

        async with self.lock:
            control = self._ctl()
            await run_transfer(control, self._prepare(control), verb, path, body)
        return decode_lines(bytes(raw))

    async def names(self, path: str = "") -> list[str]:
        """NLST: the bare names in a folder (some servers prefix the folder path)."""
        return await self._fetch_listing("NLST", path)

    # Defined after every `list[...]` annotation in this class: the method shadows the builtin.
    async def list(self, path: str = "", *, mlsd: bool | None = None) -> list[RemoteEntry]:
        """The entries of a folder: MLSD where the server has it, else LIST, parsed.
        `mlsd=False` asks for LIST this once (its lines carry modes and owners)."""
        async with self.lock:  # one decision and one listing, not split by another task
            use_mlsd = self.use_mlsd if self.use_mlsd is not None else "MLST" in self.features
            if use_mlsd and mlsd is not False:
                try:
                    return entries_from_mlsd(await self._fetch_listing("MLSD", path))
                except FTPReplyError as error:
                    if error.code not in (Code.SYNTAX_ERROR, Code.NOT_IMPLEMENTED) or self.use_mlsd:
                        raise
                    self.use_mlsd = False  # announced but not there: remember, use LIST
            return entries_from_list(await self._fetch_listing("LIST", path))

    async def download(
        self, remote: str, local_file: DownloadTarget, *, offset: int = 0, progress: Progress | None = None
    ) -> int:
        """RETR `remote` into `local_file`; with offset > 0, REST offset first and write at
        local_file's byte `offset`. Returns the bytes received by this call."""
        if offset:
            await _seek(local_file, offset)

        async def body(data: DataConnection) -> int:
            return await receive_to_file(data, local_file, offset, progress)

        async with self.lock:
            control = self._ctl()
            await self._binary(control)
            return await run_transfer(control, self._prepare(control), "RETR", remote, body, rest=offset)

    async def upload(
        self,
        local_file: BinaryIO,
        remote: str,
        *,
        offset: int = 0,
        append: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """STOR `local_file` as `remote`. offset > 0: send from local_file's byte `offset`
        (REST offset + STOR, or just APPE with append=True). Returns the bytes sent."""
        if offset:
            await _seek(local_file, offset)

        async def body(data: DataConnection) -> int:
            return await send_from_file(data, local_file, offset, progress)

        verb = "APPE" if append else "STOR"
        rest = 0 if append else offset
        async with self.lock:
            control = self._ctl()
            await self._binary(control)
            return await run_transfer(control, self._prepare(control), verb, remote, body, rest=rest)


async def _seek(local_file: DownloadTarget | BinaryIO, offset: int) -> None:
    try:
        await asyncio.to_thread(local_file.seek, offset)
    except (io.UnsupportedOperation, OSError) as error:
        raise ValueError(f"cannot resume at byte {offset}: the local file is not seekable") from error


Number = TypeVar("Number", int, float)


def _number_in(reply: Reply, convert: Callable[[str], Number]) -> Number:
    """The value of a 213 reply, e.g. `213 1234` or `213 20240105103000`."""
    text = reply.text.strip().split(" ")[-1] if reply.text.strip() else ""
    try:
        return convert(text)
    except ValueError:
        raise FTPReplyError(Reply(reply.code, f"{reply.text} (not a number)")) from None
