"""A transfer's clean-up runs to its end: inline when it never waits, in a task when it
does, and a cancellation of the transfer meanwhile never cuts it short."""

from __future__ import annotations

import asyncio

import pytest

from aioftp_lite.server.transfers.cleanup import finish_cleanup


async def test_a_cleanup_that_never_waits_runs_inline() -> None:
    steps: list[str] = []
    before = len(asyncio.all_tasks())

    async def close() -> None:
        steps.append("closed")
        assert len(asyncio.all_tasks()) == before  # no task of its own

    await finish_cleanup(close)
    assert steps == ["closed"]


async def test_a_waiting_cleanup_gets_results_and_errors_of_what_it_awaits() -> None:
    loop = asyncio.get_running_loop()
    steps: list[object] = []

    async def remove() -> None:
        steps.append(await asyncio.to_thread(lambda: "worker result"))
        failing = loop.create_future()
        loop.call_later(0.01, failing.set_exception, OSError("disk gone"))
        try:
            await failing
        except OSError as error:
            steps.append(str(error))
        await asyncio.sleep(0)  # a bare yield
        steps.append("done")

    await finish_cleanup(remove)
    assert steps == ["worker result", "disk gone", "done"]


async def test_cancelling_the_transfer_does_not_cut_a_waiting_cleanup_short() -> None:
    steps: list[str] = []
    started = asyncio.Event()

    async def remove() -> None:
        steps.append("first step")
        started.set()
        await asyncio.sleep(0.05)
        steps.append("second step")

    async def transfer() -> str:
        await finish_cleanup(remove)
        return "finished"

    task = asyncio.create_task(transfer())
    await started.wait()
    task.cancel()
    assert await asyncio.wait_for(task, 5) == "finished"  # the late cancellation is dropped
    assert steps == ["first step", "second step"]


@pytest.mark.parametrize("waits_first", [False, True])
async def test_an_error_of_the_cleanup_reaches_the_transfer(waits_first: bool) -> None:
    async def broken() -> None:
        if waits_first:
            await asyncio.sleep(0)
        raise PermissionError("cannot remove")

    with pytest.raises(PermissionError, match="cannot remove"):
        await finish_cleanup(broken)
