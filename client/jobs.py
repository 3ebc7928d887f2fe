"""The verbs of background jobs: `CMD &` (run by the shell), `jobs`, `fg N`, `kill N`, `queue CMD`.

The jobs themselves (a child shell each, on a connection of its own) are in `background.py`.
Leaving with jobs running asks first in the REPL; batch mode waits for them.
"""

from __future__ import annotations

import asyncio

from .commands import Arg, Call, lookup, verb
from .context import ShellContext
from .errors import ShellError


def check_background(words: list[str]) -> None:
    """Only transfers run in the background, and a usage mistake is told now, not later."""
    declared = lookup(words[0]) if words else None
    if declared is None or declared.group != "Transfers":
        raise ShellError("only transfers run in the background (get, put, mget, mput, mirror, pget)")
    declared.parse(words[0], words[1:])


@verb("jobs", usage="jobs", group="Transfers", needs_connection=False, summary="list background jobs",
      details="""
      Each background job with its state, its command and how far it has got. `CMD &` starts
      one (`get big.iso &`); `fg N` waits for one, `kill N` stops one, `queue CMD` lines
      commands up to run one after another.
      """)  # fmt: skip
async def jobs(shell: ShellContext, call: Call) -> None:
    if not shell.jobs.jobs:
        shell.print("no jobs (start one with `CMD &`, e.g. get big.iso &)")
    for job in shell.jobs.jobs.values():
        shell.print(job.describe())


@verb("fg", usage="fg [N]", group="Transfers", args=(Arg.TEXT,), needs_connection=False,
      summary="wait for a background job", details="Wait until job N (the last one by default) ends; Ctrl-C stops it.")  # fmt: skip
async def fg(shell: ShellContext, call: Call) -> None:
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
async def kill(shell: ShellContext, call: Call) -> None:
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
async def queue(shell: ShellContext, call: Call) -> None:
    if not call.args:
        job = shell.jobs.queue_job
        if job is None or job.finished:
            shell.print("the queue is empty")
            return
        shell.print(job.describe())
        for words in job.commands:
            shell.print(f"    {' '.join(words)}")
        return
    await shell.jobs.start(list(call.args), queued=True)
