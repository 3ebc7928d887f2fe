"""Background jobs: `get big.iso &`, `jobs`, `fg N`, `kill N`, `queue CMD`.

A job is a transfer command run by a child shell on a connection of its own (to the
same server and folder), so the prompt and the main connection stay free. Its lines
reach the terminal through `Shell.notify`, prefixed with `[N]` (the REPL prints them
above the prompt); it draws no progress bar, but `jobs` and the toolbar show how far
each has got. `queue CMD` runs commands one after another in a single job.

Leaving with jobs running asks first in the REPL; batch mode waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .commands import Arg, Call, ShellError, lookup, verb
from .progress import format_rate, format_size

if TYPE_CHECKING:
    from .shell import Shell


class LineForwarder:
    """A text stream that hands each finished line to `send`, prefixed (a job's out and err)."""

    def __init__(self, prefix: str, send: object) -> None:
        self.prefix, self.send, self._partial = prefix, send, ""

    def write(self, text: str) -> int:
        self._partial += text.replace("\r", "")
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.strip():
                self.send(self.prefix + line)  # type: ignore[operator]
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Job:
    number: int
    commands: deque[list[str]]  # still to run; a queue job gets more while it runs
    child: Shell
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
    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.jobs: dict[int, Job] = {}
        self._queue_job: Job | None = None

    def running(self) -> list[Job]:
        return [job for job in self.jobs.values() if not job.finished]

    def total_rate(self) -> float:
        return sum(job.rate() for job in self.running())

    async def start(self, words: list[str], *, queued: bool = False) -> Job:
        """Check the command, open a connection for it, and run it in the background."""
        self._check(words)
        if queued and self._queue_job is not None and not self._queue_job.closing:
            self._queue_job.commands.append(words)
            self.shell.print(f"[{self._queue_job.number}] queued: {' '.join(words)}")
            return self._queue_job
        number = max(self.jobs, default=0) + 1
        child = await self._child(number)
        job = Job(number, deque([words]), child, " ".join(words))
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=f"job-{number}")
        self.jobs[number] = job
        if queued:
            self._queue_job = job
        self.shell.print(f"[{number}] {' '.join(words)} &")
        return job

    def _check(self, words: list[str]) -> None:
        declared = lookup(words[0]) if words else None
        if declared is None or declared.group != "Transfers":
            raise ShellError("only transfers run in the background (get, put, mget, mput, mirror, pget)")
        declared.parse(words[0], words[1:])  # a usage mistake is told now, not later

    async def _child(self, number: int) -> Shell:
        from .shell import Shell  # (shell.py imports this module)

        parent = self.shell
        out = LineForwarder(f"[{number}] ", parent.notify)
        child = Shell(out=out, err=LineForwarder(f"[{number}] ", parent.notify_error), local_dir=parent.local_dir,  # type: ignore[arg-type]
                      timeout=parent.timeout, passive=parent.passive, tls_context=parent.tls_context)  # fmt: skip
        child.chatty, child.prefetch, child.parent = False, False, parent
        child.client = await parent.connect_again()
        child.target, child.target_reached, child.remote_cwd = parent.target, True, parent.remote_cwd
        return child

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


# --- the verbs ---------------------------------------------------------------------


@verb("jobs", usage="jobs", group="Transfers", needs_connection=False, summary="list background jobs",
      details="""
      Each background job with its state, its command and how far it has got. `CMD &` starts
      one (`get big.iso &`); `fg N` waits for one, `kill N` stops one, `queue CMD` lines
      commands up to run one after another.
      """)  # fmt: skip
async def jobs(shell: Shell, call: Call) -> None:
    if not shell.jobs.jobs:
        shell.print("no jobs (start one with `CMD &`, e.g. get big.iso &)")
    for job in shell.jobs.jobs.values():
        shell.print(job.describe())


@verb("fg", usage="fg [N]", group="Transfers", args=(Arg.TEXT,), needs_connection=False,
      summary="wait for a background job", details="Wait until job N (the last one by default) ends; Ctrl-C stops it.")  # fmt: skip
async def fg(shell: Shell, call: Call) -> None:
    job = shell.jobs.find(call.args[0] if call.args else None)
    assert job.task is not None
    try:
        await asyncio.shield(job.task)
    except asyncio.CancelledError:
        await shell.jobs.kill(job)  # Ctrl-C in the foreground stops the job, as for any transfer
        raise
    if job.failed:
        raise ShellError(f"job {job.number} failed")


@verb("kill", usage="kill N | all", group="Transfers", args=(Arg.TEXT,), required=1, needs_connection=False,
      summary="stop a background job", details="Abort job N (ABOR on its connection), or all of them.")  # fmt: skip
async def kill(shell: Shell, call: Call) -> None:
    chosen = shell.jobs.running() if call.args[0] == "all" else [shell.jobs.find(call.args[0])]
    for job in chosen:
        await shell.jobs.kill(job)
        shell.print(f"[{job.number}] killed")


@verb("queue", usage="queue COMMAND...", group="Transfers", args=(Arg.COMMAND,), repeat_last=True, raw=True,
      summary="run transfers one after another, in the background",
      details="""
      `queue get a.iso`, then `queue get b.iso`: one background job runs them in order, on its
      own connection. `queue` alone shows what is waiting.
      """)  # fmt: skip
async def queue(shell: Shell, call: Call) -> None:
    if not call.args:
        job = shell.jobs._queue_job
        if job is None or job.finished:
            shell.print("the queue is empty")
            return
        shell.print(job.describe())
        for words in job.commands:
            shell.print(f"    {' '.join(words)}")
        return
    await shell.jobs.start(list(call.args), queued=True)
