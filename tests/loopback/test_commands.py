"""Every control-only command, driven by Python's ftplib (an independent client) and,
where the exact wire shape matters, by a raw socket. Reply codes and effects on disk.
"""

from __future__ import annotations

import ftplib
import os
import time
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import ACCOUNTS, PASSWORD, USER, code_of, connect_ftplib
from tests.support.control import RawControl, assert_multiline_shape
from tests.support.threads import in_thread

# Every command the issue lists (issue 2, point 3), plus the X-variants.
ALL_VERBS = [
    "USER",
    "PASS",
    "QUIT",
    "NOOP",
    "SYST",
    "FEAT",
    "OPTS",
    "HELP",
    "STAT",
    "TYPE",
    "MODE",
    "STRU",
    "ALLO",
    "PWD",
    "CWD",
    "CDUP",
    "MKD",
    "RMD",
    "DELE",
    "RNFR",
    "RNTO",
    "LIST",
    "NLST",
    "MLSD",
    "MLST",
    "SIZE",
    "MDTM",
    "RETR",
    "STOR",
    "STOU",
    "APPE",
    "REST",
    "ABOR",
    "PASV",
    "EPSV",
    "PORT",
    "EPRT",
    "XPWD",
    "XCWD",
    "XCUP",
    "XMKD",
    "XRMD",
]


# --- login and session ---------------------------------------------------------------


async def test_login_noop_syst_pwd_quit(server: Server) -> None:
    def session() -> None:
        raw = RawControl(server.port)
        assert raw.greeting.code == 220
        assert raw.command("USER anonymous").code == 331
        assert raw.command("PASS guest@").code == 230
        assert raw.command("NOOP").code == 200
        syst = raw.command("SYST")
        assert (syst.code, syst.lines[0]) == (215, "215 UNIX Type: L8")
        assert raw.command("PWD").lines == ['257 "/" is the current directory']
        assert raw.command("XPWD").lines == ['257 "/" is the current directory']
        assert raw.command("QUIT").code == 221
        assert raw.sock.recv(1) == b"", "the server must close the connection after QUIT"
        raw.close()

    await in_thread(session)


async def test_named_user_login_and_bad_logins(root: Path) -> None:
    # A short failure delay keeps the test fast; the delay itself is another test's subject.
    async with Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS,
                      login_failure_delay=0.05) as server:  # fmt: skip
        await in_thread(lambda: _bad_logins_then_good(server.port))


def _bad_logins_then_good(port: int) -> None:
    client = ftplib.FTP(timeout=10)
    client.connect("127.0.0.1", port)
    with pytest.raises(ftplib.error_perm, match="^530"):
        client.login(USER, "wrong password")
    with pytest.raises(ftplib.error_perm, match="^530"):
        client.login("nobody", PASSWORD)
    assert code_of(client, "PASS orphan") == 503  # PASS without USER
    assert client.login(USER, PASSWORD).startswith("230")
    assert code_of(client, "PASS again") == 230  # already logged in
    client.quit()


async def test_commands_before_login_get_530(server: Server, root: Path) -> None:
    (root / "file.txt").write_bytes(b"data")

    def session() -> None:
        raw = RawControl(server.port)
        for line in ("PWD", "XPWD", "CWD /", "CDUP", "LIST", "NLST", "MLSD", "MLST file.txt",
                     "RETR file.txt", "STOR x", "APPE x", "STOU", "DELE file.txt", "MKD d", "XMKD d",
                     "RMD d", "RNFR file.txt", "RNTO y", "SIZE file.txt", "MDTM file.txt", "PASV",
                     "EPSV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|", "TYPE I", "REST 0",
                     "MODE S", "STRU F", "ALLO 10", "STAT /"):  # fmt: skip
            assert raw.command(line).code == 530, line
        # Harmless commands work before a login.
        for line, code in (("NOOP", 200), ("SYST", 215), ("FEAT", 211), ("HELP", 214),
                           ("OPTS UTF8 ON", 200), ("STAT", 211)):  # fmt: skip
            assert raw.command(line).code == code, line
        assert raw.command("QUIT").code == 221
        raw.close()

    await in_thread(session)
    assert sorted(os.listdir(root)) == ["file.txt"]


async def test_unknown_unimplemented_and_bad_arguments(server: Server) -> None:
    def session() -> None:
        client = connect_ftplib(server.port)
        assert code_of(client, "FROB x") == 500
        assert code_of(client, "XYZZY") == 500
        assert code_of(client, "SITE EXEC ls") == 502  # SITE exists (CHMOD), EXEC never will
        assert code_of(client, "ACCT billing") == 502
        for line in ("USER", "CWD", "XCWD", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO",
                     "RETR", "STOR", "APPE", "SIZE", "MDTM", "TYPE", "MODE", "STRU", "PORT",
                     "EPRT", "REST", "OPTS"):  # fmt: skip
            assert code_of(client, line) == 501, line
        for line in ("NOOP now", "PWD /", "CDUP x", "SYST y", "ABOR z", "PASV 1", "QUIT x"):
            assert code_of(client, line) == 501, line
        assert code_of(client, "REST abc") == 501
        assert code_of(client, "REST -5") == 501
        assert code_of(client, "PORT 1,2,3") == 501
        assert code_of(client, "PORT 127,0,0,1,300,1") == 501
        assert code_of(client, "EPRT |1|not-an-ip|2000|") == 501
        assert code_of(client, "EPRT |3|127.0.0.1|2000|") == 522
        assert code_of(client, "OPTS FROB ON") == 501
        assert code_of(client, "RNTO nowhere") == 503
        assert code_of(client, "NOOP") == 200  # the session survived all of it
        client.quit()

    await in_thread(session)


# --- extensions and multi-line replies ------------------------------------------------


async def test_feat_multiline_reply(server: Server) -> None:
    def session() -> tuple[str, list[str]]:
        raw = RawControl(server.port)
        feat = raw.command("FEAT")
        assert feat.code == 211
        assert_multiline_shape(feat)
        raw.close()
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", server.port)
        parsed = client.sendcmd("FEAT")
        client.quit()
        return parsed, feat.lines

    parsed, lines = await in_thread(session)
    features = [line[1:] for line in lines[1:-1]]
    assert all(line.startswith(" ") and not line.startswith("  ") for line in lines[1:-1])
    for expected in ("UTF8", "EPSV", "EPRT", "SIZE", "MDTM", "REST STREAM"):
        assert expected in features
    mlst = [f for f in features if f.startswith("MLST ")]
    assert mlst and {"type*", "size*", "modify*", "perm*", "unique*"} <= set(mlst[0][5:].split(";"))
    assert parsed.splitlines()[0] == "211-Features:"
    assert parsed.splitlines()[-1].startswith("211 ")


async def test_opts_utf8_and_mlst_facts(server: Server, root: Path) -> None:
    (root / "a.bin").write_bytes(b"12345")

    def session() -> list[str]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("OPTS UTF8 ON").code == 200
        assert raw.command("OPTS utf8 on").code == 200
        assert raw.command("OPTS UTF8 OFF").code == 504
        full = raw.command("MLST a.bin")
        chosen = raw.command("OPTS MLST size;type;")
        assert chosen.code == 200 and set(chosen.lines[0].split()[-1].split(";")) == {"type", "size", ""}
        narrowed = raw.command("MLST a.bin")
        raw.close()
        return [full.lines[1], narrowed.lines[1]]

    full, narrowed = await in_thread(session)
    assert set(full.split()[0].rstrip(";").split(";")) >= {"type=file", "size=5"}
    assert {fact.split("=")[0] for fact in full.split()[0].rstrip(";").split(";")} == {
        "type", "size", "modify", "perm", "unique"
    }  # fmt: skip
    facts, name = narrowed.split(" ")[1:]
    assert narrowed.startswith(" ") and name == "/a.bin"
    assert sorted(facts.rstrip(";").split(";")) == ["size=5", "type=file"]


async def test_help_lists_every_command_and_explains_one(server: Server) -> None:
    def session() -> list:
        raw = RawControl(server.port)
        everything = raw.command("HELP")
        one = raw.command("HELP retr")
        unknown = raw.command("HELP FROB")
        raw.close()
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", server.port)
        parsed = client.sendcmd("HELP")
        client.quit()
        return [everything, one, unknown, parsed]

    everything, one, unknown, parsed = await in_thread(session)
    assert everything.code == 214
    assert_multiline_shape(everything)
    listed = set(" ".join(everything.lines[1:-1]).split())
    assert set(ALL_VERBS) <= listed
    assert one.code == 214 and len(one.lines) == 1 and "RETR" in one.lines[0]
    assert unknown.code == 501
    assert parsed.startswith("214-") and parsed.splitlines()[-1].startswith("214 ")


async def test_stat_without_and_with_path(server: Server, root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "one.txt").write_bytes(b"x" * 1234)
    (root / "docs" / "two.txt").write_bytes(b"")

    def session() -> list:
        raw = RawControl(server.port)
        before_login = raw.command("STAT")
        raw.login()
        status = raw.command("STAT")
        folder = raw.command("STAT docs")
        one_file = raw.command("STAT /docs/one.txt")
        missing = raw.command("STAT nothing-here")
        raw.close()
        client = connect_ftplib(server.port)
        parsed = client.sendcmd("STAT docs")
        client.quit()
        return [before_login, status, folder, one_file, missing, parsed]

    before_login, status, folder, one_file, missing, parsed = await in_thread(session)
    assert before_login.code == 211 and "Not logged in" in before_login.text
    assert status.code == 211
    assert_multiline_shape(status)
    assert "Logged in as anonymous" in status.text and "No data transfer in progress" in status.text
    assert folder.code == 213
    assert_multiline_shape(folder)
    entries = folder.lines[1:-1]
    assert [line.split()[-1] for line in entries] == ["one.txt", "two.txt"]
    assert entries[0].lstrip().startswith("-rw") and entries[0].split()[4] == "1234"
    assert one_file.code == 213 and one_file.lines[1].split()[-1] == "one.txt"
    assert missing.code == 550
    assert parsed.splitlines()[0].startswith("213-") and parsed.splitlines()[-1].startswith("213 ")


async def test_type_mode_stru_allo(server: Server) -> None:
    def session() -> None:
        client = connect_ftplib(server.port)
        expectations = {
            "TYPE A": 200, "TYPE a": 200, "TYPE A N": 200, "TYPE I": 200, "TYPE L 8": 200,
            "TYPE E": 504, "TYPE L 16": 504, "TYPE Q": 501,
            "MODE S": 200, "MODE s": 200, "MODE B": 504, "MODE C": 504, "MODE Z": 501,
            "STRU F": 200, "STRU R": 504, "STRU P": 504, "STRU X": 501,
            "ALLO 1000": 202, "ALLO": 202,
        }  # fmt: skip
        for line, code in expectations.items():
            assert code_of(client, line) == code, line
        client.quit()

    await in_thread(session)


async def test_type_is_reported_by_stat(server: Server) -> None:
    def session() -> tuple[str, str]:
        client = connect_ftplib(server.port)
        client.voidcmd("TYPE I")
        binary = client.sendcmd("STAT")
        client.voidcmd("TYPE A")
        text = client.sendcmd("STAT")
        client.quit()
        return binary, text

    binary, text = await in_thread(session)
    assert "TYPE: BINARY" in binary and "TYPE: ASCII" in text


async def test_every_listed_command_is_known_to_the_server(server: Server) -> None:
    """No command of the list answers 500 'unknown' (with an argument where one is needed)."""

    def session() -> dict[str, int]:
        raw = RawControl(server.port)
        # PASS first: PASS after USER would be a failed login, slowed down on purpose.
        verbs = sorted((v for v in ALL_VERBS if v != "QUIT"), key=lambda verb: verb != "PASS")
        codes = {verb: raw.command(f"{verb} x").code for verb in verbs}
        raw.close()
        return codes

    codes = await in_thread(session)
    assert {verb: code for verb, code in codes.items() if code == 500} == {}


async def test_command_verbs_are_case_insensitive(server: Server) -> None:
    def session() -> list[int]:
        raw = RawControl(server.port)
        codes = [raw.command("user anonymous").code, raw.command("pass x@").code,
                 raw.command("pwd").code, raw.command("NoOp").code]  # fmt: skip
        raw.close()
        return codes

    assert await in_thread(session) == [331, 230, 257, 200]


async def test_idle_session_is_bounded_by_time(root: Path) -> None:
    """A session that sends nothing is told 421 and closed (the idle limit)."""
    async with Server(root=root, host="127.0.0.1", port=0, idle_timeout=0.3) as running:

        def session() -> tuple[str, bytes]:
            raw = RawControl(running.port)
            started = time.monotonic()
            line = raw.read_line()
            assert time.monotonic() - started < 5
            rest = raw.sock.recv(100)
            raw.close()
            return line, rest

        line, rest = await in_thread(session, timeout=10)
    assert line.startswith("421 ") and rest == b""
