"""Event hooks: Python callbacks (`Server(hooks=...)`) and, from the config file, commands
(`command = [...]`, run without a shell, the event in AIOFTP_* environment variables) and
webhooks (`url = "http://..."`, a JSON POST).

Hooks after the fact (a login, a finished upload, ...) are queued and run by a few worker
tasks: the session never waits for them, a full queue drops the event (logged), and each
run is cut at its timeout (a command is killed). Hooks before the fact (`before_upload`,
`before_delete`) are awaited, at most for their timeout, and may refuse: a callback returns
a `Reply` (or `(code, text)`); a command refuses by exiting non-zero, with its first line of
output as the reply's text. A veto hook that fails or times out refuses with 451 (fail
closed: the check did not pass), so the session is delayed by the timeout at most.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import logging
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .events import (
    Banned,
    Deleted,
    DeleteStarting,
    Event,
    FolderMade,
    LoginFailed,
    LoginSucceeded,
    Renamed,
    TransferDone,
    UploadStarting,
    event_fields,
)
from .protocol.replies import Code, Reply

log = logging.getLogger("aioftp_lite.hooks")

AFTER_EVENTS = (
    "login", "login_failed", "upload_done", "download_done", "delete", "rename", "mkdir", "ban",
)  # fmt: skip
VETO_EVENTS = ("before_upload", "before_delete")
EVENTS = AFTER_EVENTS + VETO_EVENTS
# A veto's reply when the hook says no without saying why.
REFUSALS = {
    "before_upload": Reply(Code.BAD_FILE_NAME, "Upload refused by the server's policy"),
    "before_delete": Reply(Code.FILE_UNAVAILABLE, "Delete refused by the server's policy"),
}
CHECK_FAILED = Reply(Code.LOCAL_ERROR, "The server could not check this request, try again later")

Callback = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class HookSpec:
    """One `[[hooks]]` table of the config file."""

    event: str
    command: tuple[str, ...] = ()
    url: str = ""
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r} (expected one of {', '.join(EVENTS)})")
        if bool(self.command) == bool(self.url):
            raise ValueError('give either command = [...] or url = "http://..."')
        if self.url and urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"expected an http:// or https:// URL, got {self.url!r}")


def hook_name(event: Event) -> str | None:
    """The hook event an emitted event calls, if any."""
    match event:
        case LoginSucceeded():
            return "login"
        case LoginFailed():
            return "login_failed"
        case TransferDone(result="ok"):
            return f"{event.direction}_done"
        case Deleted():
            return "delete"
        case Renamed():
            return "rename"
        case FolderMade():
            return "mkdir"
        case Banned():
            return "ban"
    return None


def environment(name: str, event: object) -> dict[str, str]:
    """AIOFTP_EVENT=upload_done, AIOFTP_USER=alice, AIOFTP_PATH=/a.txt, AIOFTP_SIZE=5, ..."""
    env = {"AIOFTP_EVENT": name}
    for key, value in event_fields(event).items():
        env[f"AIOFTP_{key.upper()}"] = str(int(value) if isinstance(value, bool) else value)
    return env


def _callbacks(hooks: object) -> dict[str, Callback]:
    """`on_login`, `before_upload`, ... of an object or a mapping, by event name."""
    found: dict[str, Callback] = {}
    names = {f"on_{name}": name for name in AFTER_EVENTS} | {name: name for name in VETO_EVENTS}
    if isinstance(hooks, Mapping):
        unknown = set(hooks) - names.keys()
        if unknown:
            raise ValueError(f"unknown hook {min(unknown)!r} (expected one of {', '.join(names)})")
        items: Iterable[tuple[str, Any]] = hooks.items()
    else:
        items = [(attribute, getattr(hooks, attribute, None)) for attribute in names]
    for attribute, callback in items:
        if callback is not None:
            found[names[attribute]] = callback
    return found


class Hooks:
    """The hook runner: an event sink for the hooks after the fact, and `check` for the vetoes."""

    def __init__(
        self,
        callbacks: object = None,
        specs: tuple[HookSpec, ...] = (),
        *,
        concurrency: int = 4,
        queue: int = 1000,
        timeout: float = 10.0,
    ) -> None:
        self._timeout = timeout  # for the Python callbacks; a [[hooks]] table has its own
        self._callbacks = _callbacks(callbacks) if callbacks is not None else {}
        self._specs: dict[str, list[HookSpec]] = {}
        for spec in specs:
            self._specs.setdefault(spec.event, []).append(spec)
        self._concurrency = max(1, concurrency)
        self._queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(max(1, queue))
        self._veto_slots = asyncio.Semaphore(self._concurrency)
        self._workers: list[asyncio.Task[None]] = []

    def wants(self, name: str) -> bool:
        return name in self._callbacks or name in self._specs

    # --- after the fact: queued -----------------------------------------------------
    def __call__(self, event: Event) -> None:
        name = hook_name(event)
        if name is None or not self.wants(name):
            return
        if not self._workers:  # started with the first event: no tasks for a server without hooks
            self._workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]
        try:
            self._queue.put_nowait((name, event))
        except asyncio.QueueFull:
            log.warning("hook queue full (%d waiting): %s hooks for %s dropped",
                        self._queue.maxsize, name, event)  # fmt: skip

    async def _work(self) -> None:
        while True:
            name, event = await self._queue.get()
            callback = self._callbacks.get(name)
            if callback is not None:
                await self._bounded(name, functools.partial(callback, event), self._timeout)
            for spec in self._specs.get(name, ()):
                await self._bounded(name, functools.partial(self._run_spec, spec, name, event), spec.timeout)

    async def _bounded(self, name: str, work: Callable[[], Awaitable[Any]], timeout: float) -> None:
        """Run one hook; a failure or timeout is logged, never raised."""
        try:
            async with asyncio.timeout(timeout):
                await work()
        except TimeoutError:
            log.warning("%s hook timed out after %gs", name, timeout)
        except Exception as error:  # noqa: BLE001 - a hook's bug must not end the runner
            log.warning("%s hook failed: %s", name, error or type(error).__name__)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        if self._workers:
            await asyncio.wait(self._workers, timeout=5.0)
        self._workers = []

    # --- before the fact: awaited, may refuse ---------------------------------------
    async def check(self, event: UploadStarting | DeleteStarting) -> Reply | None:
        """None to go ahead, or the reply that refuses."""
        name = "before_upload" if isinstance(event, UploadStarting) else "before_delete"
        callback = self._callbacks.get(name)
        for spec in self._specs.get(name, ()):
            run = functools.partial(self._run_spec, spec, name, event)
            refusal = await self._veto(name, run, spec.timeout)
            if refusal is not None:
                return refusal
        if callback is not None:
            return await self._veto(name, functools.partial(callback, event), self._timeout)
        return None

    async def _veto(self, name: str, work: Callable[[], Awaitable[Any]], timeout: float) -> Reply | None:
        try:
            async with asyncio.timeout(timeout), self._veto_slots:
                answer = await work()
        except TimeoutError:
            log.warning("%s hook timed out after %gs: refused", name, timeout)
            return CHECK_FAILED
        except Exception as error:  # noqa: BLE001 - a hook's bug refuses, never ends the session
            log.warning("%s hook failed, refused: %s", name, error or type(error).__name__)
            return CHECK_FAILED
        if answer is None or answer is True:
            return None
        if isinstance(answer, Reply):
            return answer
        if isinstance(answer, tuple):
            return Reply(int(answer[0]), str(answer[1]))
        return REFUSALS[name]

    # --- commands and webhooks ------------------------------------------------------
    async def _run_spec(self, spec: HookSpec, name: str, event: object) -> Reply | None:
        if spec.url:
            body = {"event": name, **event_fields(event)}
            status = await asyncio.to_thread(_post, spec.url, body, spec.timeout)
            if not 200 <= status < 300:
                raise OSError(f"{spec.url} answered HTTP {status}")
            return None
        process = await asyncio.create_subprocess_exec(
            *spec.command, env={**os.environ, **environment(name, event)},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            output, _ = await process.communicate()
        except asyncio.CancelledError:  # the timeout: kill it, and reap it
            process.kill()
            await process.wait()
            raise
        if process.returncode == 0:
            return None
        if name in VETO_EVENTS:
            text = output.decode("utf-8", "replace").strip().splitlines()
            default = REFUSALS[name]
            return Reply(default.code, text[0][:200]) if text else default
        raise OSError(f"{spec.command[0]} exited with status {process.returncode}")


def _post(url: str, body: dict[str, Any], timeout: float) -> int:
    """A JSON POST (blocking: run in a thread); the HTTP status."""
    parts = urllib.parse.urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.netloc, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        connection.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
