"""The interactive loop: a PromptSession with history, suggestions, completion and a toolbar.

Each command line runs as its own task, so Ctrl-C during a command (a transfer, a
slow listing) cancels just that task: the client sends ABOR, the shell reports how
far it got, and the prompt comes back with the connection usable. At the prompt
itself Ctrl-C clears the line and Ctrl-D leaves, as in a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.styles import Style

from .actions import leave_jobs
from .bookmarks import data_dir
from .completion import ShellCompleter
from .errors import ShellError
from .progress import TextSink, format_rate
from .shell import Shell

STYLE = Style.from_dict(
    {
        "bottom-toolbar": "noreverse bg:#303446 #c6d0f5",
        "bottom-toolbar.key": "bold #a6d189",
        "bottom-toolbar.dim": "#838ba7",
        "bottom-toolbar.busy": "#e5c890",
    }
)

# `ftp://user:password@host` or `user:password@host` (as `open` takes it), anywhere in a line
_URL_PASSWORD = re.compile(r"((?:^|\s)(?:ftp://)?[^\s/:@]+):[^\s@/]*@", re.IGNORECASE)


def history_path() -> Path:
    """$XDG_DATA_HOME/aioftp-lite/history, by default ~/.local/share/aioftp-lite/history."""
    return data_dir() / "history"


def redact(line: str) -> str:
    """A line fit for the history file: passwords in URLs are dropped."""
    return _URL_PASSWORD.sub(r"\1@", line)


class RedactingHistory(FileHistory):
    """History kept across sessions, never with a password in it."""

    def store_string(self, string: str) -> None:
        super().store_string(redact(string))


def open_history(path: Path | None = None) -> History:
    path = path or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()  # a read-only home should not stop the client
    return RedactingHistory(str(path))


def toolbar(shell: Shell) -> StyleAndTextTuples:
    """Server, user, remote folder and transfer state, in one line at the bottom."""
    if shell.broken and shell.target is not None:
        where = shell.target.display()
        return [("class:bottom-toolbar.busy", f" disconnected from {where}: the next command reconnects")]
    if shell.client is None or shell.target is None:
        return [
            ("class:bottom-toolbar.dim", " not connected: open HOST, or open ftp://user@host:port  │  help")
        ]
    parts: StyleAndTextTuples = [
        ("class:bottom-toolbar.key", f" {shell.target.display()}"),
        ("", f"  │ user {shell.target.login_user}  │ {shell.remote_cwd}  │ "),
        ("class:bottom-toolbar.busy" if shell.transfer_state != "idle" else "", shell.transfer_state),
    ]
    if shell.cache.listing_now:
        parts.append(("class:bottom-toolbar.dim", f"  │ listing {shell.cache.listing_now}…"))
    if running := shell.jobs.running():
        rate = format_rate(shell.jobs.total_rate())
        parts.append(
            ("class:bottom-toolbar.busy", f"  │ {len(running)} job{'s' if len(running) > 1 else ''} {rate}")
        )
    return parts


@contextlib.contextmanager
def ctrl_c_cancels(task: asyncio.Task[Any]) -> Iterator[None]:
    """While a command runs, SIGINT cancels its task instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    try:
        previous = signal.getsignal(signal.SIGINT)
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, previous)  # asyncio.run's own handler, if it had one


class Repl:
    def __init__(self, shell: Shell, *, history: History | None = None, keepalive: float = 60.0,
                 **session_options: Any) -> None:  # fmt: skip
        self.shell = shell
        self.keepalive = keepalive  # seconds between NOOPs while idle
        self.completer = ShellCompleter(
            shell.verbs,
            shell.cache,
            remote_cwd=lambda: shell.remote_cwd,
            local_dir=lambda: shell.local_dir,
            connected=lambda: shell.connected,
        )
        self.session: PromptSession[str] = PromptSession(
            history=history if history is not None else open_history(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=self.completer,
            complete_while_typing=False,  # Tab-driven, as in a shell
            bottom_toolbar=lambda: toolbar(shell),
            key_bindings=self._key_bindings(),
            style=STYLE,
            refresh_interval=0.5,  # the toolbar shows background listings as they come and go
            **session_options,
        )
        self.password_session: PromptSession[str] = PromptSession(
            is_password=True,
            input=session_options.get("input"),
            output=session_options.get("output"),
        )
        shell.cache.on_update.append(self._listing_arrived)
        shell.ask_password = self.ask_password
        shell.confirm = self.confirm
        shell.write_notice = self.notify
        self.lines_done = 0  # lines run so far (tests wait on it)
        self._running_command = False  # no prompt on the screen meanwhile

    async def ask_password(self, message: str) -> str:
        """A separate session: no echo, and nothing of it goes into the history."""
        try:
            return await self.password_session.prompt_async(message)
        except (KeyboardInterrupt, EOFError):
            raise ShellError("no password given") from None

    async def confirm(self, message: str) -> bool:
        try:
            answer = await self.password_session.prompt_async(message, is_password=False)
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    def notify(self, text: str, stream: TextSink | None = None) -> None:
        """A background job's line: above the prompt when it is up, so the typing stays intact."""
        stream = stream or self.shell.out

        def write() -> None:
            stream.write(text + "\n")
            stream.flush()

        app = self.session.app
        if app.is_running and not self._running_command:
            run_in_terminal(write, in_executor=False)
        else:
            write()

    async def run(self) -> None:
        """Prompt and run lines until `quit` or Ctrl-D."""
        shell = self.shell
        keep_alive = asyncio.get_running_loop().create_task(shell.keep_alive(self.keepalive))
        try:
            while not shell.finished:
                try:
                    line = await self.session.prompt_async(shell.prompt_text)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    if await leave_jobs(shell):
                        break
                    continue
                if line.strip():
                    await self.run_line(line)
        finally:
            keep_alive.cancel()
            shell.cache.on_update.remove(self._listing_arrived)
            await shell.close()

    async def run_line(self, line: str) -> bool:
        task = asyncio.get_running_loop().create_task(self.shell.execute(line))
        self._running_command = True
        try:
            with ctrl_c_cancels(task):
                await asyncio.wait([task])
        finally:
            self._running_command = False
        self.lines_done += 1
        return not task.cancelled() and task.result()

    # --- Tab ------------------------------------------------------------------------
    def _key_bindings(self) -> KeyBindings:
        bindings = KeyBindings()

        @bindings.add("tab")
        def _(event: KeyPressEvent) -> None:
            buffer = event.current_buffer
            if buffer.complete_state is not None:
                buffer.complete_next()
            else:
                self._complete(buffer)

        return bindings

    def _complete(self, buffer: Buffer) -> None:
        """A single match is applied at once (menu closed), fuzzy or not; else the menu opens
        (with the common part of prefix matches inserted). The completer only reads the
        cache, so asking it here never waits."""
        event = CompleteEvent(completion_requested=True)
        found = list(self.completer.get_completions(buffer.document, event))
        if len(found) == 1:
            buffer.apply_completion(found[0])
        elif found:
            buffer.start_completion(insert_common_part=True)

    # --- completion that waited for a listing ------------------------------------
    def _listing_arrived(self, folder: str) -> None:
        """A Tab found nothing because the folder was not cached: complete now that it is."""
        app = self.session.app
        if not app.is_running:
            return
        buffer = self.session.default_buffer
        waited = self.completer.waiting
        if waited is not None and waited == (folder, buffer.document.text_before_cursor):
            self.completer.waiting = None
            if buffer.complete_state is None:
                self._complete(buffer)
        elif buffer.complete_state is not None and self.completer.last_folder == folder:
            # A refresh of the folder on show (someone else may have changed it): its names now.
            buffer.cancel_completion()  # (a menu already open is never recomputed otherwise)
            buffer.start_completion(insert_common_part=False)
        app.invalidate()
