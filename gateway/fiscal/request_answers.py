"""How long the answer to a POS request is kept: its text for a while, its key for ever.

``POST /v1/receipts`` carries the POS's ``id``, the idempotency key: the same id again
never registers a second receipt (:meth:`Pipeline.sell <gateway.fiscal.pipeline.Pipeline.sell>`).
Each id's row in ``requests`` holds what the request came to, the receipt's journal
entry and, for a while, the answer's JSON (about 1 kB a receipt). That text is dropped
after ``[api] keep_request_answers_days`` (30 by default) by :class:`AnswerKeeper`, once
when the till starts and every six hours after; the request id, its state and its
receipt's entry stay for ever.

A retry is answered the same before and after: the receipt its id got, rebuilt from the
journal's receipt index (number, control code, totals — exactly what was registered),
``200`` where the first answer was ``201``. Answering a retry with a new sale would sell
twice, so a late retry is never taken as new: its id is still known. The answer of a
refused request (a short error text) is kept: without it a retry could not be told why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from gateway.fiscal.store import RequestState, Store, Writer

__all__ = ["AnswerKeeper", "drop_old_answers"]

log = logging.getLogger("tillgw.fiscal.requests")

DROP_EVERY = 6 * 3600.0  # seconds: a few times a day keeps the table a day's answers above its limit


async def drop_old_answers(store: Store, keep_days: int) -> int:
    """Drop the answer text of receipts done more than ``keep_days`` ago; how many were dropped."""
    # The times are ISO text in the shop's zone, compared as text: a change of summer time
    # moves the limit by an hour, nothing against a limit counted in days.
    before = (store.clock.now() - timedelta(days=keep_days)).isoformat()

    def drop(w: Writer) -> int:
        cursor = w.execute(
            "UPDATE requests SET result = NULL "
            "WHERE state = ? AND result IS NOT NULL AND entry_seq IS NOT NULL AND answered_at < ?",
            (RequestState.DONE.value, before),
        )
        return int(cursor.rowcount)

    return await store.transact(drop)


class AnswerKeeper:
    """Drops old answers when started and every ``every`` seconds; ``await start()``, ``await close()``."""

    def __init__(self, store: Store, keep_days: int, every: float = DROP_EVERY) -> None:
        self.store = store
        self.keep_days = keep_days
        self.every = every
        self.dropped = 0  # answers dropped since the start
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Drop what is old now, then go on in the background."""
        if self._task is None:
            await self._drop()
            self._task = asyncio.create_task(self._run(), name="request answers kept")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self._drop()

    async def _drop(self) -> None:
        try:
            dropped = await drop_old_answers(self.store, self.keep_days)
        except Exception as exc:  # a full disk, a busy file: tried again next time, sales go on
            log.warning("old request answers not dropped this time: %s", exc)
            return
        self.dropped += dropped
        if dropped:
            log.info(
                "dropped the answer text of %d receipt request(s) older than %d days "
                "(their ids and receipts are kept)",
                dropped,
                self.keep_days,
            )
