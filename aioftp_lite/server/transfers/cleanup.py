"""A transfer's cleanup (closing its file, removing a failed upload's temporary file)
runs to its end, whatever cancels the transfer meanwhile."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Generator
from typing import Any

Cleanup = Callable[[], Coroutine[Any, Any, None]]


async def finish_cleanup(cleanup: Cleanup) -> None:
    """Run `cleanup` to its end even if the transfer task is cancelled meanwhile.

    ABOR, or a client that vanished, can cancel a transfer while its failed upload
    is removing the temporary file; stopping half-way would leave that file behind.
    The transfer has chosen its reply by then, so the late cancellation is dropped.

    The first step runs here: most cleanups (closing a downloaded local file) end
    without waiting on anything, so nothing can interrupt them, and a task of their
    own per download is a visible share of the server's time in many_small. Only a
    cleanup that waits gets a task.
    """
    steps = cleanup()
    try:
        waiting_on = steps.send(None)
    except StopIteration:
        return
    task = asyncio.ensure_future(_resume(steps, waiting_on))
    current = asyncio.current_task()
    while not task.done():
        try:
            await asyncio.wait([task])  # unlike `await task`, never cancels the cleanup
        except asyncio.CancelledError:
            if current is not None:
                current.uncancel()
    task.result()


async def _resume(steps: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    await _Resumed(steps, waiting_on)


class _Resumed:
    """Awaits the rest of a coroutine whose first step already ran and stopped at `waiting_on`
    (what it yielded to the event loop: a future, or None for a bare yield)."""

    def __init__(self, steps: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._steps = steps
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self._waiting_on
        while True:
            try:
                answer = yield waiting_on  # the task that runs us waits on it
            # E.g. the awaited future failed: passed on into the coroutine, as a task would.
            except BaseException as error:  # noqa: BLE001
                step: Callable[[], Any] = functools.partial(self._steps.throw, error)
            else:
                step = functools.partial(self._steps.send, answer)
            try:
                waiting_on = step()
            except StopIteration:
                return
