"""The demo's embedded MQTT broker: amqtt in this process, when no broker answers.

``tillgw run`` with no configuration should need nothing installed. With
``[mqtt] embedded = "when-none"`` (the demo's setting) and nothing answering at the
configured host and port, :func:`start_embedded_if_needed` starts an amqtt broker on that
address (MQTT 3.1.1, anonymous, in memory) and says so. If something answers — a
Mosquitto, say — it is used and nothing is started.

The embedded broker keeps nothing on disk and is not built for a store's load; the till's
outbox (:mod:`gateway.bus.outbox`) keeps every message until the sync module has acked
it, so a broker that forgets, whichever it is, loses nothing. A store runs Mosquitto
(docs/mosquitto.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from gateway.config import MqttConfig

__all__ = ["EmbeddedBroker", "broker_answers", "start_embedded_broker", "start_embedded_if_needed"]

log = logging.getLogger("tillgw.bus.broker")

PROBE_TIMEOUT = 2.0  # seconds a TCP connect to host:port may take before "nothing answers"


class EmbeddedBroker:
    """An amqtt broker serving ``url`` from this process; :meth:`close` stops it."""

    def __init__(self, broker: Any, url: str) -> None:
        self._broker: Any = broker  # an amqtt Broker (amqtt ships no type information)
        self.url = url

    @property
    def notice(self) -> str:
        """The line ``tillgw run`` prints (after ``tillgw: ``)."""
        return (
            f"no MQTT broker answered at {self.url}; started an embedded one (for demos, not for production)"
        )

    async def close(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
            log.info("embedded MQTT broker at %s stopped", self.url)


async def broker_answers(host: str, port: int, within: float = PROBE_TIMEOUT) -> bool:
    """Whether anything accepts a TCP connection at ``host:port`` within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def start_embedded_broker(host: str, port: int) -> EmbeddedBroker:
    """An amqtt broker listening on ``host:port``, anonymous, MQTT 3.1.1.

    Raises :class:`OSError` when the address cannot be bound (someone else has it).
    """
    # amqtt (with its YAML, WebSocket and state-machine libraries) is loaded only here, when a
    # broker is started: a till whose broker answers, which is every till in a shop, never
    # holds it in memory.
    from amqtt.broker import Broker  # type: ignore[import-untyped]  # amqtt ships no type information

    # amqtt tells of every connection at INFO; the till's own output says what matters.
    for name in ("amqtt", "transitions"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            # Only the anonymous login: no $SYS publisher, no packet logger.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    try:
        await broker.start()
    except Exception as exc:  # amqtt wraps the bind error in its BrokerError
        raise OSError(f"could not start an embedded MQTT broker on {host}:{port}: {exc}") from exc
    url = f"mqtt://{host}:{port}"
    log.info("no MQTT broker answered at %s; started an embedded one (for demos, not for production)", url)
    return EmbeddedBroker(broker, url)


async def start_embedded_if_needed(config: MqttConfig) -> EmbeddedBroker | None:
    """The embedded broker when ``config.embedded`` asks for one and nothing answers, else None.

    A broker that cannot be started (the port was taken between the probe and the bind)
    is logged, not fatal: the publisher then reports what it finds at the address.
    """
    if not config.embedded or config.tls:
        return None
    if await broker_answers(config.host, config.port):
        log.info("an MQTT broker answers at %s; using it", config.url)
        return None
    try:
        return await start_embedded_broker(config.host, config.port)
    except OSError as exc:
        log.warning("%s", exc)
        return None
