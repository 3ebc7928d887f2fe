"""Background jobs: the machinery behind `get big.iso &`, `jobs`, `fg N`, `kill N`, `queue CMD`.

A job is a transfer command run by a child shell on a connection of its own (to the
same server and folder), so the prompt and the main connection stay free. Its lines
reach the terminal through the owner's `notify`, prefixed with `[N]` (the REPL prints them
above the prompt); it draws no progress bar, but `jobs` and the toolbar show how far
each has got. `queue CMD` runs commands one after another in a single job.

This module knows the shells it drives only by the two small protocols below (the verbs
are in `jobs.py`), so the shell can hold a `Jobs` without an import back to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ShellError
from .progress import Progress, TextSink, format_rate, format_size


class JobShell(Protocol):
    """What a job needs of the child shell that runs its commands."""

    progress: Progress | None  # the running transfer's

    async def run(self, words: list[str]) -> bool: ...

    async def disconnect(self) -> None: ...


class JobOwner(Protocol):
    """What the job list needs of the shell that starts jobs."""

    def print(self, text: str = "") -> None: ...

    def notify(self, text: str) -> None: ...

    def notify_error(self, text: str) -> None: ...

    async def spawn(self, out: TextSink, err: TextSink) -> JobShell: ...


class LineForwarder:
    """A text stream that hands each finished line to `send`, prefixed (a job's out and err)."""

    def __init__(self, prefix: str, send: Callable[[str], None]) -> None:
        self.prefix, self.send, self._partial = prefix, send, ""

    def write(self, text: str, /) -> int:
        self._partial += text.replace("\r", "")
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.strip():
                self.send(self.prefix + line)
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Job:
    number: int
    commands: deque[list[str]]  # still to run; a queue job gets more while it runs
    child: JobShell
    title: str = ""  # its first command
    task: asyncio.Task[bool] | None = None
    running: str = ""  # the command running now
    closing: bool = False  # out of commands: a new `queue CMD` starts another job
    failed: bool = False
    done: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.task is not None and self.task.done()

    def rate(self) -> float:
        progress = self.child.progress
        if progress is None or not self.running or progress.elapsed <= 0:
            return 0.0
        return (progress.done - progress.start_at) / progress.elapsed

    def describe(self) -> str:
        state = "done" if self.finished and not self.failed else "failed" if self.failed else "running"
        line = f"[{self.number}] {state:<8}{self.running or (self.done[-1] if self.done else self.title)}"
        progress = self.child.progress
        if self.running and progress is not None:
            total = f"/{format_size(progress.total)}" if progress.total else ""
            percent = f"{progress.done / progress.total:4.0%} " if progress.total else ""
            line += f"  {percent}{format_size(progress.done)}{total} {format_rate(self.rate())}"
        if len(self.commands):
            line += f"  (+{len(self.commands)} queued)"
        return line


class Jobs:
    """The jobs one shell started. `check` refuses (ShellError) a command that may not run in
    the background, or whose words do not fit its usage, before any connection is opened."""

    def __init__(self, shell: JobOwner, check: Callable[[list[str]], None]) -> None:
        self.shell = shell
        self.check = check
        self.jobs: dict[int, Job] = {}
        self.queue_job: Job | None = None  # the job `queue CMD` adds to while it runs

    def running(self) -> list[Job]:
        return [job for job in self.jobs.values() if not job.finished]

    def total_rate(self) -> float:
        return sum(job.rate() for job in self.running())

    async def start(self, words: list[str], *, queued: bool = False) -> Job:
        """Check the command, open a connection for it, and run it in the background."""
        self.check(words)
        if queued and self.queue_job is not None and not self.queue_job.closing:
            self.queue_job.commands.append(words)
            self.shell.print(f"[{self.queue_job.number}] queued: {' '.join(words)}")
            return self.queue_job
        number = max(self.jobs, default=0) + 1
        prefix = f"[{number}] "
        child = await self.shell.spawn(LineForwarder(prefix, self.shell.notify),
                                       LineForwarder(prefix, self.shell.notify_error))  # fmt: skip
        job = Job(number, deque([words]), child, " ".join(words))
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=f"job-{number}")
        self.jobs[number] = job
        if queued:
            self.queue_job = job
        self.shell.print(f"[{number}] {' '.join(words)} &")
        return job

    async def _run(self, job: Job) -> bool:
        try:
            while job.commands:
                words = job.commands.popleft()
                job.running = " ".join(words)
                if not await job.child.run(words):
                    job.failed = True
                job.done.append(job.running)
                job.running = ""
            job.closing = True  # (no await since the loop's test: nothing queued is lost)
        finally:
            job.closing = True
            await job.child.disconnect()
        self.shell.notify(f"[{job.number}] {'failed' if job.failed else 'done'}: {job.done[-1]}")
        return not job.failed

    def find(self, text: str | None) -> Job:
        if text is None:
            running = self.running()
            if not running:
                raise ShellError("no job running")
            return running[-1]
        number = text.lstrip("%")
        if not number.isdigit() or int(number) not in self.jobs:
            raise ShellError(f"no job {text} (see `jobs`)")
        return self.jobs[int(number)]

    async def kill(self, job: Job) -> None:
        if job.task is None or job.task.done():
            return
        job.commands.clear()
        job.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job.task
        job.failed = True
        await job.child.disconnect()  # (a job killed before it started never reached its own)

    async def wait_all(self) -> bool:
        """Batch mode at the end: let every job finish; True if all succeeded."""
        tasks = [job.task for job in self.jobs.values() if job.task is not None]
        if tasks:
            await asyncio.wait(tasks)
        return not any(job.failed for job in self.jobs.values())

    async def stop_all(self) -> None:
        for job in self.running():
            await self.kill(job)
