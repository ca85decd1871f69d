"""What the bus says the sync module has stored from this register, for ``tillgw restore``.

The sync module keeps a retained status on ``tillgw/{orgnr}/{store}/sync/status``
(:mod:`gateway.messages.sync_status`) whose ``registers`` say, for each register of the
store, the last message sequence and the last receipt number it has stored. ``tillgw
restore`` asks the broker of the till's ``[mqtt]`` for it: a clean session under a client
id of its own (never the till's, whose session holds the till's acks), a subscription and
nothing published. The broker hands a retained message over at once on subscribing, so a
short wait (:data:`WAIT_SECONDS`) tells a status from none.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import aiomqtt

from gateway.common.i18n import tr
from gateway.config import Config
from gateway.messages.fields import MessageError
from gateway.messages.sync_status import SyncStatus, decode_status, status_topic
from gateway.mqtt.client import SubscriptionRefused, mqtt_client, refused

__all__ = ["WAIT_SECONDS", "BusAnswer", "ask_bus"]

WAIT_SECONDS = 5.0  # for the connection, and again for the retained status after subscribing


@dataclass(frozen=True, slots=True)
class BusAnswer:
    """What the bus said: the figures of this register, or why there are none (``unheard``)."""

    sequence: int | None = None  # the last message the sync module stored from the register
    receipt: int | None = None  # the last receipt number among them; None: none
    source: str = ""  # where the figures come from, in words, for the refusal to name
    said: str = ""  # what the technician is told the bus said
    unheard: str | None = None  # in words: why the bus told nothing (no broker, no status, …)


async def _retained_status(config: Config, wait: float) -> SyncStatus | None:
    """The retained status of the till's store; None when the broker keeps none."""
    assert config.mqtt is not None
    topic = status_topic(config.shop.orgnr, config.shop.store)
    identifier = f"tillgw-restore-{config.pos_id}-{uuid.uuid4().hex[:8]}"
    async with mqtt_client(config.mqtt, identifier, clean_session=True, timeout=wait) as client:
        granted = await client.subscribe(topic, qos=1)
        if any(refused(code) for code in granted):
            raise SubscriptionRefused(f"SUBACK {granted}")
        try:
            async with asyncio.timeout(wait):
                # The retained status comes first; one published meanwhile is as good (newer).
                async for message in client.messages:
                    if isinstance(message.payload, bytes | bytearray):
                        return decode_status(bytes(message.payload))
        except TimeoutError:
            return None
    return None


async def ask_bus(config: Config, wait: float = WAIT_SECONDS) -> BusAnswer:
    """What the sync module's retained status says of this register; never raises."""
    assert config.mqtt is not None
    url, register = config.mqtt.url, config.pos_id
    try:
        async with asyncio.timeout(wait * 3):  # connect, subscribe, the wait: one bound for all
            status = await _retained_status(config, wait)
    except SubscriptionRefused:
        return BusAnswer(
            unheard=tr(
                "the broker at {url} does not let this till read the sync module's status ({topic}): "
                "see its access list (docs/mosquitto.md)"
            ).format(url=url, topic=status_topic(config.shop.orgnr, config.shop.store))
        )
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        why = str(exc) or type(exc).__name__
        return BusAnswer(unheard=tr("the bus at {url} did not answer ({why})").format(url=url, why=why))
    except MessageError as exc:
        return BusAnswer(
            unheard=tr("the sync module's status on the bus at {url} cannot be read: {why}").format(
                url=url, why=exc
            )
        )
    if status is None:
        return BusAnswer(
            unheard=tr("the bus at {url} holds no status of the sync module for this store").format(url=url)
        )
    if not status.registers:
        return BusAnswer(
            unheard=tr(
                "the sync module's status of {at} on the bus names no registers (a sync module "
                "older than this till's release)"
            ).format(at=status.at)
        )
    source = tr("the sync module's status of {at} on the bus").format(at=status.at)
    mark = status.register(register)
    if mark is None:
        said = tr("the bus: the sync module has stored nothing from {register} (its status of {at})")
        return BusAnswer(0, None, source, said.format(register=register, at=status.at))
    receipt = mark.get("receipt")
    said = (
        tr(
            "the bus: the sync module has stored from {register} up to message {sequence}, "
            "receipt {receipt} (its status of {at})"
        )
        if receipt is not None
        else tr(
            "the bus: the sync module has stored from {register} up to message {sequence}, "
            "no receipt (its status of {at})"
        )
    )
    return BusAnswer(
        int(mark["sequence"]),
        receipt,
        source,
        said.format(register=register, sequence=mark["sequence"], receipt=receipt, at=status.at),
    )
