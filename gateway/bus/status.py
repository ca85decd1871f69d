"""The bus in words: what ``GET /v1/status`` shows of it, and the publisher's health words.

The words are a shop owner's, and say what to do: the broker's refusal and its cause
(:func:`explain`), what the sync module holds (:func:`held_words`), what waits for its
ack (:func:`waiting_words`), and whether acks are checked (:func:`acks_note`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiomqtt import MqttError

from gateway.bus.outbox import HeldMessage, OutboxState
from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.config import MqttConfig
from gateway.messages.ack_proof import AckVerifier
from gateway.mqtt.client import BAD_LOGIN, NOT_AUTHORISED, ConnectionLost, SubscriptionRefused, connack_code

__all__ = [
    "BusStatus",
    "CaFileUnusable",
    "acks_note",
    "bus_status",
    "explain",
    "held_words",
    "waiting_words",
]


@dataclass(frozen=True, slots=True)
class BusStatus:
    """What ``GET /v1/status`` shows of the bus."""

    broker: str
    state: str
    reason: str
    depth: int  # messages acked neither stored nor held by the sync module
    oldest_at: str | None  # when the oldest of them was written
    oldest_age_s: float | None  # and how long ago that is
    last_acked: int | None  # the highest sequence acked
    held: tuple[HeldMessage, ...] = ()  # what the sync module holds, with its reasons
    held_count: int = 0
    acks: str = "unauthenticated"  # "signed" (the sync module's key checks each ack) or "unauthenticated"
    acks_note: str = ""  # the same in words
    acks_ignored: dict[str, int] = field(default_factory=dict)  # cause -> acks ignored for it

    def to_json(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "state": self.state,
            "reason": self.reason,
            "depth": self.depth,
            "oldest_unacked_at": self.oldest_at,
            "oldest_unacked_age_s": self.oldest_age_s,
            "last_acked": self.last_acked,
            "held": [h.to_json() for h in self.held],
            "held_count": self.held_count,
            "acks": self.acks,
            "acks_note": self.acks_note,
            "acks_ignored": dict(self.acks_ignored),
        }


def bus_status(
    outbox: OutboxState,
    state: DeviceState,
    reason: str,
    broker: str,
    verifier: AckVerifier | None,
    acks_ignored: dict[str, int],
    now: datetime,
) -> BusStatus:
    """The status of the outbox (``outbox``) and of the publisher's connection to ``broker``, at ``now``."""
    age = None
    if outbox.oldest_at is not None:
        age = round((now - datetime.fromisoformat(outbox.oldest_at)).total_seconds(), 1)
    return BusStatus(
        broker,
        state.value,
        reason,
        outbox.depth,
        outbox.oldest_at,
        age,
        outbox.last_acked,
        outbox.held,
        outbox.held_count,
        "unauthenticated" if verifier is None else "signed",
        acks_note(verifier),
        dict(acks_ignored),
    )


class CaFileUnusable(MqttError):
    """The till's CA file ([mqtt] ca_file) cannot be read or used."""


def acks_note(verifier: AckVerifier | None) -> str:
    """Whether acks are checked, in words for the status."""
    if verifier is None:
        return tr(
            "acks are unauthenticated: anyone who may publish on the broker "
            "could mark a message delivered — set [mqtt] sync_public_key to "
            "the sync module's key (tillgw sync --export-key)"
        )
    return tr("acks are checked against the sync module's key {key_id}").format(key_id=verifier.key_id)


def explain(exc: BaseException, config: MqttConfig, acks_topic: str) -> str:
    """The failure in a shop owner's words, and what to do."""
    url = config.url
    user = tr("user {username!r}").format(username=config.username) if config.username else tr("no user name")
    if not isinstance(exc, MqttError | OSError):
        return tr("publishing stopped on an unexpected error ({exc!r}) — see the till's log").format(exc=exc)
    if isinstance(exc, CaFileUnusable):
        return tr("the till cannot use its CA file {ca_file} ({exc}) — check [mqtt].ca_file").format(
            ca_file=config.ca_file, exc=exc
        )
    if isinstance(exc, ConnectionLost):
        return tr("lost the connection to the MQTT broker at {url} — check that Mosquitto runs").format(
            url=url
        )
    if isinstance(exc, SubscriptionRefused):
        return tr(
            "the MQTT broker at {url} refused {user} the subscription to "
            "{acks_topic} — check the broker's ACL (docs/mosquitto.md)"
        ).format(url=url, user=user, acks_topic=acks_topic)
    code = connack_code(exc)
    if code in BAD_LOGIN:
        return tr(
            "the MQTT broker at {url} refused the till's login ({user}): bad "
            "user name or password — check [mqtt] username and password"
        ).format(url=url, user=user)
    if code in NOT_AUTHORISED:
        return tr(
            "the MQTT broker at {url} refused the till's login ({user}): not "
            "authorised — check [mqtt] username and password, and the "
            "broker's users (docs/mosquitto.md)"
        ).format(url=url, user=user)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return tr(
            "the MQTT broker at {url} has a certificate the till does not "
            "trust ({verify_message}) — check [mqtt].ca_file"
        ).format(url=url, verify_message=cause.verify_message)
    if isinstance(cause, ssl.SSLError):
        return tr(
            "no TLS connection with the MQTT broker at {url} ({reason}) — check the port and [mqtt].ca_file"
        ).format(url=url, reason=cause.reason)
    return tr("no answer from the MQTT broker at {url} — check that Mosquitto runs").format(url=url)


def held_words(first: HeldMessage | None, count: int) -> str:
    what = "" if first is None else f" — {first.kind} {first.sequence}: {first.reason}"
    many = tr("1 message") if count == 1 else tr("{count} messages").format(count=count)
    return tr(
        "the ERP sync module holds {messages}{what}; fix the cause, then "
        "run tillgw sync --reprocess where the sync module runs "
        "(docs/sync.md)"
    ).format(messages=many, what=what)


def waiting_words(state: OutboxState, now: datetime) -> str:
    """How many wait, and since when (the time alone when it is ``now``'s day, in ``now``'s zone)."""
    when = ""
    if state.oldest_at is not None:
        at = datetime.fromisoformat(state.oldest_at).astimezone(now.tzinfo)
        same_day = at.date() == now.date()
        when = tr(", oldest {at}").format(at=at.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M"))
    count = (
        tr("1 message waiting")
        if state.depth == 1
        else tr("{count} messages waiting").format(count=state.depth)
    )
    return tr(
        "{count}{when} — the ERP sync module has not acknowledged them; check that tillgw sync runs"
    ).format(count=count, when=when)
