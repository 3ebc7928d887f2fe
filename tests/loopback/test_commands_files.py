"""Control-connection commands on folders and files, with ftplib: MKD RMD CWD CDUP
(and XMKD XRMD XCWD XCUP XPWD), DELE, RNFR/RNTO, SIZE, MDTM, MLST. Replies and disk.
"""

from __future__ import annotations

import calendar
import os
from pathlib import Path

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER, code_of, connect_ftplib
from tests.support.control import RawControl, assert_multiline_shape
from tests.support.threads import in_thread

# --- folders and files ----------------------------------------------------------------


async def test_mkd_cwd_cdup_rmd_and_x_variants(server: Server, root: Path) -> None:
    def session() -> list[str]:
        client = connect_ftplib(server.port, USER, PASSWORD)
        seen = [client.mkd("alpha"), client.sendcmd("XMKD alpha/beta")]
        client.cwd("alpha")
        seen.append(client.pwd())
        assert client.sendcmd("XCWD beta").startswith("250")
        seen.append(client.pwd())
        assert client.sendcmd("CDUP").startswith("250")
        seen.append(client.pwd())
        assert client.sendcmd("XCWD /alpha/beta").startswith("250")
        assert client.sendcmd("XCUP").startswith("250")
        seen.append(client.sendcmd("XPWD"))
        assert code_of(client, "MKD beta") == 550  # exists already
        assert code_of(client, "RMD /alpha") == 550  # the current folder
        assert code_of(client, "CWD nowhere") == 550
        client.cwd("/")
        assert code_of(client, "CDUP") == 250 and client.pwd() == "/"  # stays at the root
        assert code_of(client, "RMD alpha") == 550  # not empty
        assert client.sendcmd("XRMD alpha/beta").startswith("250")
        assert (root / "alpha").is_dir() and not (root / "alpha" / "beta").exists()
        assert client.rmd("alpha").startswith("250")
        assert code_of(client, "RMD alpha") == 550  # gone
        assert code_of(client, "RMD /") == 550
        client.quit()
        return seen

    seen = await in_thread(session)
    assert seen[0] == "/alpha"  # ftplib parses the quoted name out of 257
    assert seen[1] == '257 "/alpha/beta" created'
    assert seen[2:5] == ["/alpha", "/alpha/beta", "/alpha"]
    assert seen[5] == '257 "/alpha" is the current directory'
    assert os.listdir(root) == []


async def test_cwd_into_a_file_and_quotes_in_names(server: Server, root: Path) -> None:
    (root / "plain.txt").write_bytes(b"x")

    def session() -> tuple[int, str, str]:
        client = connect_ftplib(server.port)
        refused = code_of(client, "CWD plain.txt")
        made = client.sendcmd('MKD say "hi"')
        client.cwd('say "hi"')
        where = client.pwd()
        client.quit()
        return refused, made, where

    refused, made, where = await in_thread(session)
    assert refused == 550
    assert made == '257 "/say ""hi""" created'  # RFC 959 appendix II: quotes doubled
    assert where == '/say "hi"'
    assert (root / 'say "hi"').is_dir()


async def test_dele_rnfr_rnto(server: Server, root: Path) -> None:
    (root / "old.txt").write_bytes(b"keep me")
    (root / "folder").mkdir()
    (root / "victim.txt").write_bytes(b"bye")

    def session() -> None:
        client = connect_ftplib(server.port, USER, PASSWORD)
        assert client.rename("old.txt", "folder/new.txt").startswith("250")
        assert code_of(client, "RNFR missing.txt") == 550
        assert code_of(client, "RNTO after-a-failed-rnfr") == 503
        assert code_of(client, "RNFR folder") == 350
        assert code_of(client, "RNTO renamed folder") == 250
        assert code_of(client, "RNTO again") == 503  # RNFR is consumed by one RNTO
        assert code_of(client, "RNFR /") == 550
        assert client.delete("victim.txt").startswith("250")
        assert code_of(client, "DELE victim.txt") == 550
        assert code_of(client, "DELE renamed folder") == 550  # a folder is not a file
        client.quit()

    await in_thread(session)
    assert sorted(os.listdir(root)) == ["renamed folder"]
    assert (root / "renamed folder" / "new.txt").read_bytes() == b"keep me"


async def test_size_and_mdtm(server: Server, root: Path) -> None:
    target = root / "sized.bin"
    target.write_bytes(os.urandom(4321))
    stamp = calendar.timegm((2021, 3, 4, 5, 6, 7, 0, 0, 0))
    os.utime(target, (stamp, stamp))
    (root / "sub").mkdir()

    def session() -> list:
        client = connect_ftplib(server.port)
        out = [client.size("sized.bin"), client.sendcmd("MDTM sized.bin")]
        client.voidcmd("TYPE A")
        out.append(client.size("/sized.bin"))  # same size in either type
        out += [code_of(client, "SIZE sub"), code_of(client, "SIZE nope"), code_of(client, "MDTM nope")]
        out.append(code_of(client, "MDTM sub"))
        client.quit()
        return out

    size, mdtm, size_ascii, *codes = await in_thread(session)
    assert size == size_ascii == 4321
    assert mdtm == "213 20210304050607"
    assert codes == [550, 550, 550, 550]


async def test_mlst_facts_match_the_disk(server: Server, root: Path) -> None:
    (root / "box").mkdir()
    file = root / "box" / "item.dat"
    file.write_bytes(b"z" * 777)
    stamp = calendar.timegm((2022, 12, 31, 23, 59, 58, 0, 0, 0))
    os.utime(file, (stamp, stamp))

    def session() -> list:
        raw = RawControl(server.port)
        raw.login(USER, PASSWORD)
        replies = [raw.command("MLST box/item.dat"), raw.command("MLST /box"), raw.command("MLST")]
        replies.append(raw.command("MLST missing"))
        raw.close()
        return replies

    item, box, here, missing = await in_thread(session)
    for reply in (item, box, here):
        assert reply.code == 250
        assert_multiline_shape(reply)
        assert len(reply.lines) == 3
        assert reply.lines[1].startswith(" ") and not reply.lines[1].startswith("  ")  # RFC 3659 7.2
    facts_text, name = item.lines[1][1:].split(" ", 1)
    facts = dict(f.split("=", 1) for f in facts_text.rstrip(";").split(";"))
    assert name == "/box/item.dat"
    stat = file.stat()
    assert facts["type"] == "file" and facts["size"] == "777" and facts["modify"] == "20221231235958"
    assert set("r") <= set(facts["perm"]) and set("adfrw") == set(facts["perm"])
    assert facts["unique"] == f"{stat.st_dev:x}g{stat.st_ino:x}"
    box_facts = dict(f.split("=", 1) for f in box.lines[1][1:].split(" ", 1)[0].rstrip(";").split(";"))
    assert box_facts["type"] == "dir" and {"e", "l", "c", "m"} <= set(box_facts["perm"])
    assert here.lines[1].endswith(" /")
    assert missing.code == 550
