"""FTPClient against scripted peers on 127.0.0.1: timeouts, odd but valid replies, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from aioftp_lite import FTPClient, FTPConnectionLost

TIMEOUT = 10.0  # every network wait in the client is bounded by this


@dataclass
class Peer:
    port: int
    seen: list[bytes]  # the verbs received, in order


@contextlib.asynccontextmanager
async def scripted_peer(replies: dict[bytes, bytes], greeting: bytes | None = b"220 Hi\r\n",
                        delays: dict[bytes, float] | None = None) -> AsyncIterator[Peer]:  # fmt: skip
    """A tiny hand-written FTP peer on a real socket: answers each verb from `replies`
    (after `delays[verb]` seconds), or never says anything if `greeting` is None."""
    peer = Peer(0, [])
    handlers: list[asyncio.Future[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if greeting is None:
                await reader.read()  # silent; returns when the client gives up
            else:
                writer.write(greeting)
            while greeting is not None and (line := await reader.readline()):
                verb = line.split()[0]
                peer.seen.append(verb)
                await asyncio.sleep((delays or {}).get(verb, 0))
                writer.write(replies.get(verb, b"500 Unknown\r\n"))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.ensure_future(serve(reader, writer)))

    listener = await asyncio.start_server(track, "127.0.0.1", 0)
    peer.port = listener.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        listener.close()
        if handlers:
            await asyncio.wait(handlers, timeout=5)
        await listener.wait_closed()


async def test_connect_and_replies_are_bounded_by_the_timeout() -> None:
    async with scripted_peer({}, greeting=None) as peer:
        ftp = FTPClient("127.0.0.1", peer.port, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(FTPConnectionLost, match="no reply within 0.3 s"):
            await ftp.connect()
        assert time.monotonic() - started < 3 and not ftp.connected


async def test_preliminary_greeting_multiline_replies_and_rfc959_only_server() -> None:
    """120 before 220, multi-line replies with digit-led inner lines, no FEAT, a quoted 257."""
    replies = {
        b"USER": b"331 Password please\r\n",
        b"PASS": b"230-Welcome\r\n230-still welcome\r\n123 digits inside\r\n 230 indented\r\n230 Logged in\r\n",
        b"FEAT": b"502 Command not implemented\r\n",
        b"PWD": b'257 "/a ""quoted"" dir" is the current directory\r\n',
        b"QUIT": b"221 Bye\r\n",
    }
    greeting = b"120 Ready in a moment\r\n220-Hello\r\n220 there\r\n"
    async with (
        scripted_peer(replies, greeting) as peer,
        FTPClient("127.0.0.1", peer.port, timeout=TIMEOUT) as ftp,
    ):
        assert ftp.greeting is not None and ftp.greeting.code == 220
        assert ftp.greeting.text == "Hello\nthere"
        assert ftp.features == {}  # no FEAT, so no OPTS UTF8 either
        assert await ftp.pwd() == '/a "quoted" dir'
    assert peer.seen == [b"USER", b"PASS", b"FEAT", b"PWD", b"QUIT"]


_LOGIN = {b"USER": b"230 Welcome\r\n", b"FEAT": b"500 No\r\n", b"QUIT": b"221 Bye\r\n"}


async def test_cancelled_command_never_leaves_its_reply_for_the_next() -> None:
    replies = {**_LOGIN, b"PWD": b'257 "/slow" is cwd\r\n', b"MKD": b'257 "/made" created\r\n'}
    async with (
        scripted_peer(replies, delays={b"PWD": 0.3}) as peer,
        FTPClient("127.0.0.1", peer.port, timeout=TIMEOUT) as ftp,
    ):
        pwd = asyncio.create_task(ftp.pwd())
        for _ in range(300):  # until PWD is sent, its reply still to come (at most 3 s)
            if b"PWD" in peer.seen:
                break
            await asyncio.sleep(0.01)
        pwd.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pwd
        assert await ftp.mkdir("made") == "/made"  # MKD's own 257, not PWD's late one


async def test_stalled_data_connection_times_out_and_is_aborted() -> None:
    """A peer that opens the data connection but sends nothing: TimeoutError, then ABOR/NOOP, still usable."""
    data_sockets: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data_sockets.append(writer)  # accepted, never written to

    data_listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    data_port = data_listener.sockets[0].getsockname()[1]
    replies = {
        **_LOGIN, b"TYPE": b"200 ok\r\n",
        b"EPSV": f"229 Entering Extended Passive Mode (|||{data_port}|)\r\n".encode(),
        b"RETR": b"150 Here it comes (or not)\r\n", b"ABOR": b"426 Aborted\r\n226 ABOR ok\r\n",
        b"NOOP": b"200 NOOP ok\r\n", b"PWD": b'257 "/" is cwd\r\n',
    }  # fmt: skip
    try:
        async with (
            scripted_peer(replies) as peer,
            FTPClient("127.0.0.1", peer.port, timeout=0.3) as ftp,
        ):
            started = time.monotonic()
            with pytest.raises(TimeoutError, match="no data"):
                await ftp.download("slow.bin", io.BytesIO())
            assert time.monotonic() - started < 3
            assert await ftp.pwd() == "/"
        assert peer.seen[-4:] == [b"ABOR", b"NOOP", b"PWD", b"QUIT"]
    finally:
        data_listener.close()
        for writer in data_sockets:
            writer.close()
        await data_listener.wait_closed()
