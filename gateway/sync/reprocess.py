"""``tillgw sync --reprocess [--register R | --msg ID]``: held messages taken again, in order.

A message is *held* when the sync module cannot take or book it (docs/sync.md, *Held
messages*): a register its configuration does not list, content it cannot read, an
ERP that refused it. Once the cause is fixed (the register added to ``[sync].registers``,
the sync module updated, the ERP's data put right), this takes them again with today's
configuration:

1. each held message named (every one without a filter) is read again: one the
   configuration now accepts is held no longer, and its till is owed a ``stored`` ack;
2. a processing pass books every register in ``sequence`` order, so a register's later
   messages, which waited behind the held one, follow it;
3. the owed acks are published (signed) when the broker answers; when it does not, the
   service sends them at its next connection — the till shows the message held until then.

It works from the inbox alone, so it runs while the service is stopped (or beside it:
both take turns on the inbox file). The result is every named message booked (exit 0),
or each one still held with its reason (exit 1).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiomqtt

from gateway.messages.ack_proof import AckSigner
from gateway.mqtt.client import mqtt_client
from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox
from gateway.sync.processor import Processor
from gateway.sync.runlog import LOGGER
from gateway.sync.subscriber import publish_owed

__all__ = ["HeldFilter", "ReprocessOutcome", "reprocess_held"]

log = logging.getLogger(LOGGER)

PUBLISH_SECONDS = 10.0  # the longest wait for the broker to take the owed acks


@dataclass(frozen=True, slots=True)
class HeldFilter:
    register: str | None = None
    msg_id: str | None = None

    def describe(self) -> str:
        if self.msg_id is not None:
            return f" --msg {self.msg_id}"
        if self.register is not None:
            return f" --register {self.register}"
        return ""


@dataclass(frozen=True, slots=True)
class ReprocessOutcome:
    summary: str  # for the log and the tills' status
    unbooked: list[str]  # the named messages not booked, by msg_id
    taken: int = 0  # the held messages taken again
    not_held: str | None = None  # --msg ID named a message this inbox does not hold


async def reprocess_held(
    config: SyncConfig, inbox: Inbox, processor: Processor, signer: AckSigner, which: HeldFilter
) -> ReprocessOutcome:
    targets = await inbox.held(which.register, which.msg_id)
    if not targets:
        if which.msg_id is not None and not await inbox.processed([which.msg_id]):
            log.warning("reprocess: %s is not a held message of this inbox", which.msg_id)
            return ReprocessOutcome(f"{which.msg_id} is not held here", [which.msg_id], not_held=which.msg_id)
        log.info("reprocess: nothing held%s", which.describe())
        return ReprocessOutcome("nothing held", [])
    log.info("reprocess: %d held message(s)%s", len(targets), which.describe())
    source = str(config.source or "the configuration")
    still = await inbox.release(targets, config.routing, source)
    for msg_id, reason in still.items():
        log.warning("reprocess: %s is still held: %s", msg_id, reason)
    await processor.run_pass()
    names = [t.msg_id for t in targets]
    booked = await inbox.processed(names)
    unbooked = [m for m in names if m not in booked]
    for msg_id in unbooked:
        if msg_id not in still:
            log.warning("reprocess: %s is not booked yet (see the lines above for why)", msg_id)
    await _send_owed_acks(config, inbox, signer)
    summary = f"reprocessed {len(targets)} held message(s): {len(booked)} booked, {len(unbooked)} not"
    log.info("reprocess: %s", summary.removeprefix("reprocessed "))  # on screen, not only in the log
    return ReprocessOutcome(summary, unbooked, taken=len(targets))


async def _send_owed_acks(config: SyncConfig, inbox: Inbox, signer: AckSigner) -> None:
    """The ``stored`` acks for what was held, now, if the broker answers (else at the service's
    next connection)."""
    owed = await inbox.owed_acks(limit=100_000)
    if not owed:
        return
    try:
        async with asyncio.timeout(PUBLISH_SECONDS):
            identifier = f"{config.client_id}-reprocess"
            async with mqtt_client(config.mqtt, identifier, clean_session=True) as client:
                await publish_owed(client, signer, owed)
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        log.warning(
            "reprocess: the tills' acks for %d message(s) were not sent (%s): tillgw sync sends them when "
            "it next connects to %s",
            len(owed),
            exc or type(exc).__name__,
            config.mqtt.url,
        )
        return
    await inbox.acks_sent(owed)
    log.info("reprocess: sent %d ack(s) stored to the tills", len(owed))
