"""Blocking work off the test's event loop: a client session in a worker thread, a server on a
loop of its own thread, and a blocking poll."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(work: Callable[[], T], timeout: float = 30) -> T:
    """Run a blocking client session in a worker thread, bounded in time."""
    return await asyncio.wait_for(asyncio.to_thread(work), timeout)


@contextmanager
def server_in_thread(root: Path, run: Callable[..., object], **settings: Any) -> Iterator[int]:
    """A Server on `root` in its own thread, on the loop `run` starts (asyncio.run, uvloop.run);
    yields its port, and stops it on exit. `settings` go to Server."""
    from aioftp_lite import Server

    ready: list[int] = []
    stop = threading.Event()

    async def serve() -> None:
        async with Server(root=root, host="127.0.0.1", port=0, **settings) as server:
            ready.append(server.port)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=lambda: run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not ready and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert ready, "the server did not start"
        yield ready[0]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def wait_until(condition, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def loop_runners() -> list[tuple[str, Callable[..., object]]]:
    runners: list[tuple[str, Callable[..., object]]] = [("asyncio", asyncio.run)]
    try:
        import uvloop
    except ImportError:  # uvloop is in the test extra: CI has it
        return runners
    return [*runners, ("uvloop", uvloop.run)]
