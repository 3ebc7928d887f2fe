"""Event hooks over real sessions: a command hook gets the event in its environment, a
hanging one is killed at its timeout without delaying the client, a veto refuses STOR
and DELE, a webhook posts JSON, and the Python callbacks see what happened."""

from __future__ import annotations

import asyncio
import ftplib
import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from aioftp_lite import Server, ServerConfig
from aioftp_lite.configfile import ConfigError, load_config_file
from aioftp_lite.events import DeleteStarting, FolderMade, LoginSucceeded, TransferDone, UploadStarting
from aioftp_lite.hooks import HookSpec
from aioftp_lite.protocol.replies import Reply
from tests.support.clients import PASSWORD, USER, code_of, connect_ftplib
from tests.support.threads import in_thread

# Writes the AIOFTP_* variables it got to the file named by its argument, as JSON.
DUMP_ENVIRONMENT = (
    "import json, os, sys; "
    "json.dump({k: v for k, v in os.environ.items() if k.startswith('AIOFTP_')}, open(sys.argv[1], 'w'))"
)
# Writes its pid to the file named by its argument, then hangs.
HANG = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"


async def wait_for(predicate: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, "not within the time bound"
        await asyncio.sleep(0.05)
    return found


def upload(port: int, name: str, data: bytes) -> str:
    client = connect_ftplib(port, USER, PASSWORD)
    try:
        return client.storbinary(f"STOR {name}", io.BytesIO(data))
    finally:
        client.quit()


def serving(root: Path, *hooks: HookSpec, **settings: Any) -> Server:
    config = ServerConfig(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, hooks=hooks)
    return Server(config, **settings)


async def test_a_command_hook_gets_the_upload_in_its_environment(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    async with serving(
        root, HookSpec("upload_done", (sys.executable, "-c", DUMP_ENVIRONMENT, str(out)))
    ) as server:
        reply = await in_thread(lambda: upload(server.port, "report.csv", b"a,b\n1,2\n"))
        assert reply.startswith("226")
        await wait_for(lambda: out.exists() and out.stat().st_size > 0)
    env = json.loads(out.read_text())
    assert env["AIOFTP_EVENT"] == "upload_done"
    assert env["AIOFTP_USER"] == USER
    assert env["AIOFTP_PATH"] == "/report.csv"
    assert env["AIOFTP_SIZE"] == "8"
    assert env["AIOFTP_DIRECTION"] == "upload"
    assert env["AIOFTP_RESULT"] == "ok"
    assert env["AIOFTP_CLIENT"] == "127.0.0.1"


async def test_a_hanging_hook_is_killed_at_its_timeout_and_the_client_is_not_kept(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    hook = HookSpec("upload_done", (sys.executable, "-c", HANG, str(pid_file)), timeout=1.0)
    with caplog.at_level(logging.WARNING, logger="aioftp_lite.hooks"):
        async with serving(root, hook) as server:
            started = time.monotonic()
            reply = await in_thread(lambda: upload(server.port, "a.bin", b"x" * 1000))
            answered = time.monotonic() - started
            pid = int(await wait_for(lambda: pid_file.exists() and pid_file.read_text()))
            # The hook sleeps 120 s; the client had its 226 long before, and the hook dies at 1 s.
            assert reply.startswith("226") and answered < 10
            await wait_for(lambda: not psutil.pid_exists(pid))
            # The next session is served as usual.
            assert (await in_thread(lambda: upload(server.port, "b.bin", b"y"))).startswith("226")
    assert (root / "a.bin").read_bytes() == b"x" * 1000
    assert any("upload_done hook timed out" in record.getMessage() for record in caplog.records)


async def test_a_veto_refuses_the_upload_and_leaves_no_file(root: Path) -> None:
    asked: list[UploadStarting] = []

    async def before_upload(event: UploadStarting) -> Reply | None:
        asked.append(event)
        return Reply(553, "No executables here") if event.path.endswith(".exe") else None

    async with serving(root, hooks={"before_upload": before_upload}) as server:

        def session() -> tuple[str, str]:
            client = connect_ftplib(server.port, USER, PASSWORD)
            with pytest.raises(ftplib.error_perm) as refused:
                client.storbinary("STOR tool.exe", io.BytesIO(b"MZ" * 1000))
            allowed = client.storbinary("STOR notes.txt", io.BytesIO(b"hello"))
            client.quit()
            return str(refused.value), allowed

        refused, allowed = await in_thread(session)
    assert refused == "553 No executables here"
    assert allowed.startswith("226")
    assert sorted(path.name for path in root.iterdir()) == ["notes.txt"]  # no temporary file either
    assert [(event.user, event.path, event.verb) for event in asked] == [
        (USER, "/tool.exe", "STOR"), (USER, "/notes.txt", "STOR"),
    ]  # fmt: skip


async def test_a_command_veto_refuses_a_delete_and_a_hanging_one_answers_451(root: Path) -> None:
    (root / "keep.txt").write_text("precious")
    refuse = HookSpec("before_delete", (sys.executable, "-c", "print('Kept by policy'); raise SystemExit(1)"))
    async with serving(root, refuse) as server:
        code = await in_thread(lambda: code_of(connect_ftplib(server.port, USER, PASSWORD), "DELE keep.txt"))
    assert code == 550
    assert (root / "keep.txt").read_text() == "precious"

    async def hangs(_event: DeleteStarting) -> None:
        await asyncio.sleep(120)

    async with serving(root, hooks={"before_delete": hangs}, hook_timeout=0.5) as server:
        code = await in_thread(lambda: code_of(connect_ftplib(server.port, USER, PASSWORD), "DELE keep.txt"))
    assert code == 451  # fail closed: the check did not pass
    assert (root / "keep.txt").exists()


class Recorder(BaseHTTPRequestHandler):
    posts: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((self.path, self.headers["Content-Type"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[tuple[int, list[tuple[str, str, bytes]]]]:
    Recorder.posts = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], Recorder.posts
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


async def test_a_webhook_posts_the_event_as_json(root: Path) -> None:
    with http_server() as (http_port, posts):
        hook = HookSpec("mkdir", url=f"http://127.0.0.1:{http_port}/ftp-events?node=1")
        async with serving(root, hook) as server:

            def session() -> None:
                client = connect_ftplib(server.port, USER, PASSWORD)
                client.mkd("incoming")
                client.quit()

            await in_thread(session)
            await wait_for(lambda: posts)
    path, content_type, body = posts[0]
    assert path == "/ftp-events?node=1" and content_type == "application/json"
    event = json.loads(body)
    assert event["event"] == "mkdir"
    assert (event["user"], event["path"], event["client"]) == (USER, "/incoming", "127.0.0.1")


async def test_python_callbacks_see_logins_and_transfers_and_a_failing_one_is_harmless(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[object] = []

    class Hooks:
        async def on_login(self, event: LoginSucceeded) -> None:
            seen.append(event)

        async def on_upload_done(self, event: TransferDone) -> None:
            seen.append(event)

        async def on_download_done(self, event: TransferDone) -> None:
            seen.append(event)

        async def on_mkdir(self, event: FolderMade) -> None:
            raise RuntimeError("a bug in the hook")

    with caplog.at_level(logging.WARNING, logger="aioftp_lite.hooks"):
        async with serving(root, hooks=Hooks()) as server:

            def session() -> None:
                client = connect_ftplib(server.port, USER, PASSWORD)
                client.storbinary("STOR a.txt", io.BytesIO(b"12345"))
                client.retrbinary("RETR a.txt", lambda _data: None)
                client.mkd("d")
                assert client.pwd() == "/"  # the session goes on
                client.quit()

            await in_thread(session)
            await wait_for(lambda: len(seen) == 3)
    login, up, down = seen
    assert isinstance(login, LoginSucceeded) and login.user == USER and not login.anonymous
    assert isinstance(up, TransferDone) and (up.direction, up.path, up.size, up.result) == (
        "upload",
        "/a.txt",
        5,
        "ok",
    )
    assert isinstance(down, TransferDone) and (down.direction, down.size) == ("download", 5)
    assert any("mkdir hook failed: a bug in the hook" in record.getMessage() for record in caplog.records)


def test_hooks_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text(
        '[[hooks]]\nevent = "upload_done"\ncommand = ["/usr/local/bin/scan", "--quick"]\ntimeout = 30\n'
        '[[hooks]]\nevent = "login_failed"\nurl = "http://127.0.0.1:8080/alert"\n'
    )
    assert load_config_file(config)["hooks"] == (
        HookSpec("upload_done", ("/usr/local/bin/scan", "--quick"), timeout=30.0),
        HookSpec("login_failed", url="http://127.0.0.1:8080/alert"),
    )
    for bad, expected in [
        ('[[hooks]]\nevent = "uploaded"\ncommand = ["x"]\n', "unknown event 'uploaded'"),
        ('[[hooks]]\nevent = "mkdir"\n', "either command"),
        ('[[hooks]]\nevent = "mkdir"\ncommand = "x y"\n', "hooks[0].command: expected a list"),
        ('[[hooks]]\nevent = "mkdir"\nurl = "ftp://x/"\n', "http://"),
        ('[[hooks]]\nevent = "mkdir"\ncommand = ["x"]\nshell = true\n', "hooks[0].shell: unknown key"),
    ]:
        config.write_text(bad)
        with pytest.raises(ConfigError, match=re.escape(expected)):
            load_config_file(config)


def test_an_unknown_python_hook_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hook 'on_upload'"):
        Server(hooks={"on_upload": lambda _event: None})
