"""first_of: the first of several waits, the others cancelled, each task's end readable."""

from __future__ import annotations

import asyncio

import pytest

from gateway.common.waiting import first_of, raised


async def test_the_first_done_ends_the_wait_and_the_others_are_cancelled() -> None:
    asked: asyncio.Queue[str] = asyncio.Queue()
    stop = asyncio.Event()
    asked.put_nowait("full")
    got, stopping = await first_of(asked.get(), stop.wait())
    assert got.result() == "full" and stopping.cancelled()
    assert raised(got) is None and raised(stopping) is None


async def test_an_exception_is_kept_for_the_caller_to_raise() -> None:
    async def fails() -> None:
        raise ConnectionResetError("the broker went away")

    failed, stopping = await first_of(fails(), asyncio.Event().wait())
    assert isinstance(raised(failed), ConnectionResetError) and stopping.cancelled()


async def test_nothing_done_within_the_bound_cancels_every_wait() -> None:
    tasks = await first_of(asyncio.Event().wait(), asyncio.Event().wait(), within=0)
    assert all(t.cancelled() for t in tasks)


async def test_a_cancelled_caller_leaves_no_wait_running() -> None:
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()

    before = len(asyncio.all_tasks())
    outer = asyncio.create_task(first_of(waits(), asyncio.Event().wait()))
    await started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert len(asyncio.all_tasks()) == before
