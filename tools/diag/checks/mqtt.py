"""Can the till reach its MQTT broker and log in, with the config's ``[mqtt]`` credentials and TLS?

One connection, as the till's own publisher makes it, then a clean disconnect. The
answer is one of: connected; refused (not authorised, or a bad user name or password);
TLS failed (a certificate the till does not trust, or no TLS on that port); no answer.
"""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import aiomqtt

from gateway.common.i18n import tr
from gateway.config import MqttConfig
from tools.diag.checks import Check, Verdict

__all__ = ["MQTT_TIMEOUT", "check_mqtt"]

MQTT_TIMEOUT = 3.0  # a broker on the shop's network answers CONNECT in milliseconds
_BAD_LOGIN = (4, 0x86)  # MQTT 3.1.1 / 5: bad user name or password
_NOT_AUTHORISED = (5, 0x87)  # MQTT 3.1.1 / 5: not authorised


def _refused(code: int, where: str, user: str) -> Check | None:
    if code in _NOT_AUTHORISED:
        summary = f"refused: not authorised ({user}) at {where}"
    elif code in _BAD_LOGIN:
        summary = f"refused: bad user name or password ({user}) at {where}"
    else:
        return None
    return Check(
        "mqtt",
        Verdict.PROBLEM,
        summary,
        {"url": where, "user": user, "code": code},
        tr(
            "check [mqtt] username and password against the broker's "
            "password file (mosquitto_passwd), see docs/mosquitto.md"
        ),
    )


async def check_mqtt(config: MqttConfig | None, connect_seconds: float = MQTT_TIMEOUT) -> Check:
    if config is None:
        return Check("mqtt", Verdict.OK, tr("no bus: [mqtt] enabled = false"), {})
    where = config.url
    user = tr("user {username!r}").format(username=config.username) if config.username else tr("no user name")
    details: dict[str, Any] = {"url": where, "user": config.username, "tls": config.tls}
    tls_context = None
    if config.tls:
        try:
            tls_context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            return Check(
                "mqtt",
                Verdict.PROBLEM,
                tr("TLS: the CA file {ca_file} cannot be used ({error})").format(
                    ca_file=config.ca_file, error=getattr(exc, "strerror", None) or exc
                ),
                details,
                tr("check [mqtt].ca_file: the store CA's certificate in PEM"),
            )
    client = aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password,
        identifier=f"tillgw-diag-{uuid.uuid4().hex[:8]}",
        timeout=connect_seconds,
        tls_context=tls_context,
    )
    try:
        async with client:
            pass
    except aiomqtt.MqttCodeError as exc:
        code = exc.rc if isinstance(exc.rc, int) else getattr(exc.rc, "value", None)
        refused = _refused(code, where, user) if isinstance(code, int) else None
        if refused is not None:
            return refused
        return _no_answer(where, details, exc)
    except aiomqtt.MqttError as exc:
        return _no_answer(where, details, exc)
    return Check(
        "mqtt", Verdict.OK, tr("connected to {where} as {user}").format(where=where, user=user), details
    )


def _no_answer(where: str, details: dict[str, Any], exc: BaseException) -> Check:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return Check(
            "mqtt",
            Verdict.PROBLEM,
            tr("TLS: certificate not trusted at {where} ({verify_message})").format(
                where=where, verify_message=cause.verify_message
            ),
            details,
            tr(
                "check that [mqtt].ca_file is the CA that signed the broker's "
                "certificate, and that the certificate names this host"
            ),
        )
    if isinstance(cause, ssl.SSLError):
        return Check(
            "mqtt",
            Verdict.PROBLEM,
            tr("TLS: no TLS connection with {where} ({reason})").format(where=where, reason=cause.reason),
            details,
            tr("check the port: mqtts:// needs the broker's TLS listener (usually 8883)"),
        )
    return Check(
        "mqtt",
        Verdict.PROBLEM,
        tr("no answer from the MQTT broker at {where} ({exc})").format(where=where, exc=exc),
        details,
        tr(
            "check that Mosquitto runs (systemctl status mosquitto) and that "
            "[mqtt].url has its address and port"
        ),
    )
