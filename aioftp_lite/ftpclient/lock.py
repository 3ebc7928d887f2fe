"""The client's command lock: an asyncio.Lock that the task holding it may take again.

The REPL's background lister wraps its work in `async with client.lock:` so it never
interleaves with a transfer; inside, it calls client methods that take the lock
themselves. A plain asyncio.Lock would deadlock there; this one counts the owner's
nested acquisitions instead. Other tasks wait as with asyncio.Lock.
"""

from __future__ import annotations

import asyncio
from typing import Literal


class CommandLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    async def acquire(self) -> Literal[True]:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            self._depth += 1
            return True
        await super().acquire()
        self._owner, self._depth = task, 1
        return True

    def release(self) -> None:
        if self._depth > 1 and self._owner is asyncio.current_task():
            self._depth -= 1
            return
        self._owner, self._depth = None, 0
        super().release()
