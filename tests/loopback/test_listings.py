"""Listings (LIST, NLST, MLSD), UTF-8 names, IPv6, and the in-memory backend, with ftplib."""

from __future__ import annotations

import calendar
import ftplib
import hashlib
import io
import os
import socket
from pathlib import Path

import pytest

from aioftp_lite import Server
from aioftp_lite.storage import MemoryStorage
from tests.support.clients import ACCOUNTS, PASSWORD, USER, code_of, connect_ftplib, list_lines, list_name
from tests.support.threads import in_thread


def retr_bytes(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    received = io.BytesIO()
    client.retrbinary(f"RETR {name}", received.write, rest=rest)
    return received.getvalue()


async def test_list_nlst_mlsd_describe_the_folder(server: Server, root: Path) -> None:
    (root / "pub").mkdir()
    (root / "pub" / "b.bin").write_bytes(b"b" * 2048)
    (root / "pub" / "a.txt").write_bytes(b"hello")
    (root / "pub" / "inner").mkdir()
    (root / "pub" / "empty").mkdir()
    old = calendar.timegm((2019, 1, 2, 3, 4, 5, 0, 0, 0))
    os.utime(root / "pub" / "b.bin", (old, old))

    def session() -> dict:
        client = connect_ftplib(server.port, USER, PASSWORD)
        out = {
            "list": list_lines(client, "LIST pub"),
            "list_la": list_lines(client, "LIST -la pub"),
            "list_file": list_lines(client, "LIST pub/a.txt"),
            "nlst": client.nlst("pub"),
            "nlst_empty": client.nlst("pub/empty"),
            "mlsd": list(client.mlsd("pub")),
        }
        client.cwd("pub")
        out["list_here"] = list_lines(client)
        out["refusals"] = []
        for line in ("LIST missing", "NLST missing", "MLSD missing", "MLSD a.txt"):
            try:
                list_lines(client, line)
            except ftplib.error_perm as error:
                out["refusals"].append(int(str(error)[:3]))
        out["noop"] = code_of(client, "NOOP")
        client.quit()
        return out

    out = await in_thread(session)
    assert [list_name(line) for line in out["list"]] == ["a.txt", "b.bin", "empty", "inner"]
    assert out["list"] == out["list_la"] == out["list_here"]
    a_line, b_line, dir_line = out["list"][0], out["list"][1], out["list"][2]
    assert a_line.startswith("-rw") and a_line.split()[4] == "5"
    assert b_line.split()[4:8] == ["2048", "Jan", "2", "2019"]  # older than six months: the year
    assert dir_line.startswith("d")
    assert len(out["list_file"]) == 1 and out["list_file"][0].split()[-1] == "a.txt"
    assert sorted(name.rsplit("/", 1)[-1] for name in out["nlst"]) == ["a.txt", "b.bin", "empty", "inner"]
    assert out["nlst_empty"] == []
    facts = dict(out["mlsd"])
    assert set(facts) == {"a.txt", "b.bin", "empty", "inner"}
    assert facts["a.txt"]["type"] == "file" and facts["a.txt"]["size"] == "5"
    assert facts["b.bin"]["modify"] == "20190102030405"
    assert facts["inner"]["type"] == "dir"
    assert facts["a.txt"]["unique"] != facts["b.bin"]["unique"]
    assert all({"type", "modify", "perm", "unique"} <= set(f) for f in facts.values())
    assert out["refusals"] == [550, 550, 550, 550]
    assert out["noop"] == 200


# --- UTF-8 names ----------------------------------------------------------------------

NAMES = ("päivä kirja.txt", "日本語/ファイル", "  leading and trailing spaces  ", "Ωμέγα ∆/x y z.bin")


async def test_utf8_names_with_spaces_are_stored_listed_and_retrieved(server: Server, root: Path) -> None:
    contents = {name: f"content of {name}".encode() for name in NAMES}

    def session() -> dict:
        client = connect_ftplib(server.port)
        assert client.encoding == "utf-8"
        assert client.sendcmd("OPTS UTF8 ON").startswith("200")
        for name, data in contents.items():
            if "/" in name:
                client.mkd(name.split("/")[0])
            client.storbinary(f"STOR {name}", io.BytesIO(data))
        seen = {
            "nlst": client.nlst(),
            "list": [list_name(line) for line in list_lines(client)],
            "mlsd": sorted(name for name, _ in client.mlsd()),
            "mlsd_jp": [name for name, _ in client.mlsd("日本語")],
            "back": {name: retr_bytes(client, name) for name in contents},
            "pwd": (client.cwd("日本語"), client.pwd())[1],
        }
        client.quit()
        return seen

    seen = await in_thread(session)
    top = sorted({name.split("/")[0] for name in NAMES})
    assert sorted(seen["nlst"]) == top
    assert sorted(seen["list"]) == top
    assert seen["mlsd"] == top
    assert seen["mlsd_jp"] == ["ファイル"]
    assert seen["back"] == contents
    assert seen["pwd"] == "/日本語"
    for name, data in contents.items():
        assert (root / name).read_bytes() == data


# --- IPv6 -------------------------------------------------------------------------------


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback (::1) on this machine")
async def test_ipv6_session_with_epsv_and_eprt(root: Path) -> None:
    payload = os.urandom(500_000)
    (root / "v6.bin").write_bytes(payload)

    async with Server(root=root, host="::1", port=0) as server:

        def session() -> dict:
            client = connect_ftplib(server.port, host="::1")
            assert client.af == socket.AF_INET6
            out = {"epsv_down": retr_bytes(client, "v6.bin")}  # passive on IPv6: EPSV
            client.storbinary("STOR up6.bin", io.BytesIO(payload[:1000]))
            out["pasv"] = code_of(client, "PASV")  # PASV cannot express an IPv6 address
            out["epsv_1"] = code_of(client, "EPSV 1")
            client.set_pasv(False)  # active on IPv6: EPRT
            out["eprt_down"] = retr_bytes(client, "v6.bin")
            client.storbinary("STOR eprt.bin", io.BytesIO(payload[1000:3000]))
            out["list"] = sorted(line.split()[-1] for line in list_lines(client))
            out["port_v4"] = code_of(client, "EPRT |1|127.0.0.1|2049|")  # not the client's address
            client.quit()
            return out

        out = await in_thread(session)
    assert out["epsv_down"] == payload and out["eprt_down"] == payload
    assert (root / "up6.bin").read_bytes() == payload[:1000]
    assert (root / "eprt.bin").read_bytes() == payload[1000:3000]
    assert out["pasv"] == 425 and out["epsv_1"] == 522 and out["port_v4"] == 501
    assert out["list"] == ["eprt.bin", "up6.bin", "v6.bin"]


# --- the in-memory backend ------------------------------------------------------------


async def test_core_round_trip_on_the_memory_backend(tmp_path: Path) -> None:
    shared = MemoryStorage()
    payload = os.urandom(1024 * 1024 + 123)
    unused_root = tmp_path / "never-created"

    async with Server(root=unused_root, host="127.0.0.1", port=0, accounts=ACCOUNTS, anonymous="write",
                      storage_factory=lambda account: shared) as server:  # fmt: skip

        def writer() -> None:
            client = connect_ftplib(server.port, USER, PASSWORD)
            client.mkd("data")
            client.cwd("data")
            client.storbinary("STOR blob.bin", io.BytesIO(payload))
            client.storbinary("STOR blob.bin", io.BytesIO(payload[:10]), rest=len(payload))  # resume
            client.storbinary("STOR temp.bin", io.BytesIO(b"temporary"))
            client.rename("temp.bin", "/renamed.bin")
            client.storbinary("APPE /renamed.bin", io.BytesIO(b"+more"))
            client.storlines("STOR notes.txt", io.BytesIO(b"one\ntwo\n"))
            client.quit()

        def reader() -> dict:
            client = connect_ftplib(server.port)  # another session sees the same storage
            out = {
                "blob": retr_bytes(client, "data/blob.bin"),
                "tail": retr_bytes(client, "data/blob.bin", rest=len(payload) + 5),
                "size": client.size("data/blob.bin"),
                "renamed": retr_bytes(client, "renamed.bin"),
                "notes": retr_bytes(client, "data/notes.txt"),
                "nlst": sorted(client.nlst("data")),
                "mlsd": {name: facts["type"] for name, facts in client.mlsd()},
                "list": sorted(line.split()[-1] for line in list_lines(client)),
            }
            client.delete("renamed.bin")
            client.delete("data/notes.txt")
            out["missing"] = code_of(client, "SIZE renamed.bin")
            out["rmd_full"] = code_of(client, "RMD data")
            client.quit()
            return out

        await in_thread(writer)
        out = await in_thread(reader)
    expected = payload + payload[:10]
    assert hashlib.sha256(out["blob"]).digest() == hashlib.sha256(expected).digest()
    assert out["tail"] == expected[-5:] and out["size"] == len(expected)
    assert out["renamed"] == b"temporary+more"
    assert out["notes"] == b"one\ntwo\n"
    assert [name.rsplit("/", 1)[-1] for name in out["nlst"]] == ["blob.bin", "notes.txt"]
    assert out["mlsd"] == {"data": "dir", "renamed.bin": "file"}
    assert out["list"] == ["data", "renamed.bin"]
    assert out["missing"] == 550 and out["rmd_full"] == 550
    assert not unused_root.exists()  # the memory backend never touches the disk
