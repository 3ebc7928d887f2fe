"""The REPL in-process: a completer over a filled cache, and a driver that types into the Shell
through prompt_toolkit's pipe input on the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput

from client.cache import ListingCache
from client.commands import table
from client.completion import ShellCompleter
from client.repl import Repl
from client.shell import Shell
from client.target import Target


def make_completer(
    cache: ListingCache, local: Path, cwd: str = "/", connected: bool = True
) -> ShellCompleter:
    return ShellCompleter(VERBS, cache, lambda: cwd, lambda: local, lambda: connected)


def complete(completer: ShellCompleter, text: str) -> list[Completion]:
    event = CompleteEvent(completion_requested=True)
    return list(completer.get_completions(Document(text), event))


def texts(completions: list[Completion]) -> list[str]:
    return [completion.text for completion in completions]


def apply(text: str, completion: Completion) -> str:
    """The line after accepting `completion` with the cursor at the end of `text`."""
    buffer = Buffer(document=Document(text))
    buffer.apply_completion(completion)
    return buffer.text


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


class Driver:
    """Types into the REPL and waits for each line to finish."""

    def __init__(self, pipe: PipeInput, repl: Repl, out: io.StringIO, err: io.StringIO) -> None:
        self.pipe, self.repl, self.shell, self.out, self.err = pipe, repl, repl.shell, out, err

    async def line(self, text: str, timeout: float = 10.0) -> None:
        before = self.repl.lines_done
        self.pipe.send_text(text + "\r")
        await until(lambda: self.repl.lines_done > before, timeout)

    def keys(self, text: str) -> None:
        self.pipe.send_text(text)

    @property
    def buffer_text(self) -> str:
        return self.repl.session.default_buffer.text


@contextlib.asynccontextmanager
async def running_repl(port: int, local: Path, *, history: InMemoryHistory | None = None,
                       connect: bool = True) -> AsyncIterator[Driver]:  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        shell = Shell(out=out, err=err, local_dir=local, timeout=10)
        repl = Repl(shell, history=history or InMemoryHistory(), input=pipe, output=DummyOutput())
        if connect:
            await shell.open(Target("127.0.0.1", port))
        task = asyncio.create_task(repl.run())
        try:
            yield Driver(pipe, repl, out, err)
        finally:
            if not task.done():
                pipe.send_text("\x15quit\r")  # Ctrl-U clears whatever was left typed
            await asyncio.wait_for(task, 10)
    assert shell.client is None  # quit said goodbye and closed the connection


VERBS = table()
