"""Data commands with ftplib and raw sockets: RETR STOR STOU APPE REST ABOR, passive and
active modes (PASV, EPSV, PORT, EPRT), and TYPE A line-ending conversion.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import socket
from pathlib import Path

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER, code_of, connect_ftplib, download
from tests.support.control import RawControl, receive_all
from tests.support.threads import in_thread


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- RETR, STOR, STOU, APPE -----------------------------------------------------------


async def test_passive_stor_and_retr_keep_every_byte(server: Server, root: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    (root / "empty.bin").write_bytes(b"")

    def session() -> tuple[bytes, bytes, list[int]]:
        client = connect_ftplib(server.port, USER, PASSWORD)  # ftplib's passive mode sends PASV
        stored = client.storbinary("STOR upload.bin", io.BytesIO(payload))
        assert stored.startswith("226")
        back, empty = download(client, "upload.bin"), download(client, "empty.bin")
        codes = [code_of(client, "NOOP")]
        client.mkd("folder")
        for refused in ("RETR missing.bin", "RETR folder", "STOR folder", "STOR no/such/dir.bin"):
            try:
                client.retrbinary(refused, lambda _chunk: None)
            except ftplib.error_perm as error:
                codes.append(int(str(error)[:3]))
        client.quit()
        return back, empty, codes

    back, empty, codes = await in_thread(session)
    assert sha(back) == sha(payload) == sha((root / "upload.bin").read_bytes())
    assert empty == b""
    assert codes == [200, 550, 550, 550, 550]
    assert sorted(os.listdir(root)) == ["empty.bin", "folder", "upload.bin"]


async def test_transfer_without_a_data_connection_gets_425(server: Server, root: Path) -> None:
    (root / "f.txt").write_bytes(b"abc")

    def session() -> list[int]:
        raw = RawControl(server.port)
        raw.login()
        codes = [raw.command("RETR f.txt").code]
        if codes[0] == 150:  # a preliminary reply first is fine; the final one must be 425
            codes.append(raw.read_reply().code)
        codes.append(raw.command("NOOP").code)
        raw.close()
        return codes

    codes = await in_thread(session)
    assert codes[-2:] == [425, 200]


async def test_stou_picks_unique_names(server: Server, root: Path) -> None:
    (root / "report.txt").write_bytes(b"original")

    def upload(raw: RawControl, line: str, data: bytes) -> str:
        channel = raw.open_epsv()
        opening = raw.command(line)
        assert opening.code == 150, opening
        channel.sendall(data)
        channel.close()
        assert raw.read_reply().code == 226
        match = re.search(r"FILE: (.+)$", opening.lines[0])
        assert match, opening
        return match[1]

    def session() -> list[str]:
        raw = RawControl(server.port)
        raw.login()
        names = [upload(raw, "STOU", b"first"), upload(raw, "STOU", b"second"),
                 upload(raw, "STOU report.txt", b"third")]  # fmt: skip
        raw.close()
        return names

    first, second, third = await in_thread(session)
    assert len({first, second, third}) == 3 and third != "report.txt"
    assert (root / first).read_bytes() == b"first"
    assert (root / second).read_bytes() == b"second"
    assert (root / third).read_bytes() == b"third"
    assert (root / "report.txt").read_bytes() == b"original"


async def test_appe_appends_or_creates(server: Server, root: Path) -> None:
    (root / "log.txt").write_bytes(b"line one\n")

    def session() -> None:
        client = connect_ftplib(server.port)
        assert client.storbinary("APPE log.txt", io.BytesIO(b"line two\n")).startswith("226")
        assert client.storbinary("APPE fresh.txt", io.BytesIO(b"new")).startswith("226")
        client.quit()

    await in_thread(session)
    assert (root / "log.txt").read_bytes() == b"line one\nline two\n"
    assert (root / "fresh.txt").read_bytes() == b"new"


# --- active mode --------------------------------------------------------------------


async def test_active_mode_port_retr_stor_list(server: Server, root: Path) -> None:
    payload = os.urandom(1024 * 1024 + 3)
    (root / "down.bin").write_bytes(payload)

    def session() -> tuple[bytes, list[str], list[str]]:
        client = connect_ftplib(server.port)
        client.set_pasv(False)  # ftplib sends PORT on IPv4
        assert client.storbinary("STOR up.bin", io.BytesIO(payload[::-1])).startswith("226")
        back = download(client, "down.bin")
        lines: list[str] = []
        client.retrlines("LIST", lines.append)
        names = client.nlst()
        client.quit()
        return back, lines, names

    back, lines, names = await in_thread(session)
    assert back == payload
    assert (root / "up.bin").read_bytes() == payload[::-1]
    assert sorted(line.split()[-1] for line in lines) == ["down.bin", "up.bin"]
    assert sorted(names) == ["down.bin", "up.bin"]


async def test_pasv_by_hand(server: Server, root: Path) -> None:
    (root / "p.bin").write_bytes(b"pasv data" * 1000)

    def session() -> tuple[str, bytes, int]:
        raw = RawControl(server.port)
        raw.login()
        reply = raw.command("PASV")
        match = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", reply.lines[0])
        assert reply.code == 227 and match, reply
        host = ".".join(match.groups()[:4])
        port = int(match[5]) * 256 + int(match[6])
        channel = socket.create_connection((host, port), timeout=10)
        assert raw.command("RETR p.bin").code == 150
        received = receive_all(channel)
        channel.close()
        final = raw.read_reply().code
        raw.close()
        return host, received, final

    host, received, final = await in_thread(session)
    assert host == "127.0.0.1" and received == b"pasv data" * 1000 and final == 226


async def test_eprt_and_epsv_by_hand(server: Server, root: Path) -> None:
    payload = os.urandom(300_000)
    (root / "d.bin").write_bytes(payload)

    def session() -> tuple[bytes, list[int]]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE I").code == 200
        # EPRT: we listen, the server connects to us.
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)
        port = listener.getsockname()[1]
        assert raw.command(f"EPRT |1|127.0.0.1|{port}|").code == 200
        assert raw.command("RETR d.bin").code == 150
        channel, _ = listener.accept()
        with channel:
            received = receive_all(channel)
        listener.close()
        assert raw.read_reply().code == 226
        # EPSV: the server listens, we connect; upload what we got.
        channel = raw.open_epsv()
        assert raw.command("STOR e.bin").code == 150
        channel.sendall(received)
        channel.close()
        codes = [raw.read_reply().code]
        codes += [raw.command(line).code for line in ("EPSV 1", "EPSV 2", "EPSV ALL", "PASV",
                                                      "PORT 127,0,0,1,8,1", "EPRT |1|127.0.0.1|2049|")]  # fmt: skip
        raw.close()
        return received, codes

    received, codes = await in_thread(session)
    assert received == payload
    assert (root / "e.bin").read_bytes() == payload
    # 522 for the wrong family; after EPSV ALL only EPSV may set up data connections.
    assert codes == [226, 229, 522, 200, 503, 503, 503]


async def test_active_mode_refuses_bounce_and_privileged_ports(server: Server) -> None:
    def session() -> list[int]:
        client = connect_ftplib(server.port)
        codes = [code_of(client, "PORT 10,1,2,3,8,1"), code_of(client, "EPRT |1|192.0.2.1|2049|"),
                 code_of(client, "PORT 127,0,0,1,0,21"), code_of(client, "EPRT |1|127.0.0.1|22|")]  # fmt: skip
        client.quit()
        return codes

    assert await in_thread(session) == [501, 501, 501, 501]


# --- REST -----------------------------------------------------------------------------


async def test_rest_resumes_a_download(server: Server, root: Path) -> None:
    payload = os.urandom(2 * 1024 * 1024 + 5)
    (root / "big.bin").write_bytes(payload)

    def session() -> tuple[bytes, bytes, bytes, int]:
        client = connect_ftplib(server.port)
        tail = download(client, "big.bin", rest=1_000_001)
        whole = download(client, "big.bin", rest=0)
        at_end = download(client, "big.bin", rest=len(payload))
        assert client.sendcmd(f"REST {len(payload) + 1}").startswith("350")
        try:
            client.retrbinary("RETR big.bin", lambda _chunk: None)
            past_end = 0
        except ftplib.error_perm as error:
            past_end = int(str(error)[:3])
        after = download(client, "big.bin")  # a failed RETR consumed the offset
        assert after == payload
        client.quit()
        return tail, whole, at_end, past_end

    tail, whole, at_end, past_end = await in_thread(session)
    assert tail == payload[1_000_001:]
    assert whole == payload and at_end == b""
    assert past_end == 554


async def test_rest_resumes_an_upload(server: Server, root: Path) -> None:
    full = os.urandom(2 * 1024 * 1024 + 99)
    cut = 700 * 1024 + 1

    def session() -> int:
        client = connect_ftplib(server.port, USER, PASSWORD)
        client.storbinary("STOR resumed.bin", io.BytesIO(full[:cut]))
        assert client.size("resumed.bin") == cut
        client.storbinary("STOR resumed.bin", io.BytesIO(full[cut:]), rest=cut)
        assert client.sendcmd(f"REST {len(full) + 10}").startswith("350")
        try:
            client.storbinary("STOR resumed.bin", io.BytesIO(b"junk"))
            code = 0
        except ftplib.error_perm as error:
            code = int(str(error)[:3])
        client.quit()
        return code

    past_end = await in_thread(session)
    assert sha((root / "resumed.bin").read_bytes()) == sha(full)
    assert past_end == 554


# --- ABOR -----------------------------------------------------------------------------


def _big_file(root: Path, size: int = 32 * 1024 * 1024) -> bytes:
    block = os.urandom(1024 * 1024)
    data = block * (size // len(block))
    (root / "big.bin").write_bytes(data)
    return data


async def test_abor_during_retr_answers_426_then_226(server: Server, root: Path) -> None:
    _big_file(root)
    (root / "small.txt").write_bytes(b"still works\n")

    def session() -> tuple[list[str], list[int], bytes]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE I").code == 200
        # A small receive buffer: the server cannot finish before we abort.
        channel = raw.open_epsv(receive_buffer=64 * 1024)
        assert raw.command("RETR big.bin").code == 150
        got = 0
        while got < 1024 * 1024:
            chunk = channel.recv(65536)
            assert chunk
            got += len(chunk)
        status = raw.command("STAT")  # answered mid-transfer, like ABOR
        assert status.code == 211 and "Data transfer in progress" in status.text, status
        raw.send(b"ABOR")
        first, second = raw.read_reply(), raw.read_reply()
        channel.close()
        codes = [raw.command("NOOP").code, raw.command("PWD").code]
        channel = raw.open_epsv()
        assert raw.command("RETR small.txt").code == 150
        again = receive_all(channel)
        channel.close()
        codes.append(raw.read_reply().code)
        raw.close()
        return [first.lines[0], second.lines[0]], codes, again

    (first, second), codes, again = await in_thread(session)
    assert first.startswith("426 ") and second.startswith("226 ")
    assert codes == [200, 257, 226]
    assert again == b"still works\n"


async def test_ftplib_abort_with_urgent_data(server: Server, root: Path) -> None:
    """ftplib.abort() sends ABOR with its last byte as TCP urgent data."""
    payload = _big_file(root, 48 * 1024 * 1024)

    def session() -> tuple[str, str, bytes]:
        client = connect_ftplib(server.port)
        client.voidcmd("TYPE I")
        channel = client.transfercmd("RETR big.bin")
        assert len(channel.recv(65536)) > 0
        aborted = client.abort()
        finished = client.voidresp()
        channel.close()
        start = download(client, "big.bin", rest=len(payload) - 10)
        client.quit()
        return aborted, finished, start

    aborted, finished, tail = await in_thread(session)
    assert aborted.startswith("426") and finished.startswith("226")
    assert tail == payload[-10:]


async def test_abor_without_a_transfer(server: Server, root: Path) -> None:
    (root / "x.txt").write_bytes(b"x")

    def session() -> list[int]:
        client = connect_ftplib(server.port)
        idle = code_of(client, "ABOR")
        download(client, "x.txt")
        after_done = code_of(client, "ABOR")
        codes = [idle, after_done, code_of(client, "NOOP")]
        client.quit()
        return codes

    idle, after_done, noop = await in_thread(session)
    assert idle in (225, 226) and after_done in (225, 226) and noop == 200


# --- TYPE A and TYPE I --------------------------------------------------------------
