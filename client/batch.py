"""Batch mode: commands from `-c "cd docs; get a.txt"` or from standard input, without a terminal.

No prompt, no progress bars. Each error is one line on standard error; the first
failure stops the run with exit status 1. Blank lines and lines starting with `#`
are skipped, so a command file can carry comments.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterable
from typing import TextIO

from .shell import Shell

FAILED = 1


async def lines_of(stream: TextIO) -> AsyncIterator[str]:
    """The stream's lines, read in a worker thread so background work goes on meanwhile."""
    while line := await asyncio.to_thread(stream.readline):
        yield line


async def _from_list(lines: Iterable[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def run_batch(shell: Shell, commands: str | None, stdin: TextIO | None = None) -> int:
    """Run `commands` (the -c text), or else every line of `stdin`; 0 if all succeeded."""
    source = _from_list(commands.splitlines()) if commands is not None else lines_of(stdin or sys.stdin)
    try:
        async for line in source:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not await shell.execute(stripped):
                return FAILED
            if shell.finished:
                break
        return 0 if await shell.jobs.wait_all() else FAILED
    finally:
        await shell.close()
