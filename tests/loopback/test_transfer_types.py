"""TYPE A and TYPE I over real sockets: line endings converted in ASCII mode, bytes kept in binary."""

from __future__ import annotations

import io
from pathlib import Path

from aioftp_lite import Server
from tests.support.clients import connect_ftplib, download
from tests.support.control import RawControl, receive_all
from tests.support.threads import in_thread


async def test_type_a_converts_line_endings_and_type_i_does_not(server: Server, root: Path) -> None:
    # About 1.2 MiB of lines, so CRLF pairs straddle chunk boundaries somewhere.
    text = b"".join(b"line %06d \xc3\xa4 text\n" % n for n in range(60_000))
    binary = b"keep\r\nthis\nand\rthat\r\n" * 1000

    def session() -> tuple[bytes, list[str], bytes, bytes]:
        client = connect_ftplib(server.port)
        client.storlines("STOR text.txt", io.BytesIO(text))  # TYPE A, CRLF on the wire
        client.storbinary("STOR raw.bin", io.BytesIO(binary))
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE A").code == 200
        channel = raw.open_epsv()
        assert raw.command("RETR text.txt").code == 150
        wire = receive_all(channel)
        channel.close()
        assert raw.read_reply().code == 226
        raw.close()
        lines: list[str] = []
        client.retrlines("RETR text.txt", lines.append)
        back = download(client, "raw.bin")  # TYPE I
        client.quit()
        return wire, lines, back, (root / "text.txt").read_bytes()

    wire, lines, back, on_disk = await in_thread(session)
    assert on_disk == text  # LF on disk
    assert wire == text.replace(b"\n", b"\r\n")  # CRLF on the wire
    assert lines == text.decode().splitlines()
    assert back == binary and (root / "raw.bin").read_bytes() == binary


async def test_type_a_keeps_existing_crlf_and_lone_cr(server: Server, root: Path) -> None:
    (root / "dos.txt").write_bytes(b"dos\r\nunix\nend")

    def session() -> tuple[bytes, bytes]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE A").code == 200
        channel = raw.open_epsv()
        assert raw.command("RETR dos.txt").code == 150
        wire = receive_all(channel)
        channel.close()
        assert raw.read_reply().code == 226
        channel = raw.open_epsv()
        assert raw.command("STOR mac.txt").code == 150
        channel.sendall(b"a\rb\r\nc\r")
        channel.close()
        assert raw.read_reply().code == 226
        raw.close()
        return wire, (root / "mac.txt").read_bytes()

    wire, stored = await in_thread(session)
    assert wire == b"dos\r\nunix\r\nend"  # no doubled CR
    assert stored == b"a\rb\nc\r"  # only CRLF pairs become LF
