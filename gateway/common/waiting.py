"""Waiting for the first of several things: a stop, a wake-up, a connection, a request."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["first_of", "raised"]


async def first_of(*waits: Coroutine[Any, Any, Any], within: float | None = None) -> list[asyncio.Task[Any]]:
    """Run ``waits`` until the first is done or ``within`` seconds pass; cancel the others.

    Returns their tasks in the order given, every one ended: a task done before the others
    were cancelled keeps its result or its exception, to be read by the caller (a task
    cancelled here reads as ``cancelled()``)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tasks


def raised(task: asyncio.Task[Any]) -> BaseException | None:
    """The exception ``task`` ended with, or None (done with a result, or cancelled)."""
    return task.exception() if task.done() and not task.cancelled() else None
