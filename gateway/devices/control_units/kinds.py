"""How a till names its control unit: one ``[control_unit]`` section for every kind.

The kind follows from the URL — a device path or ``socket://`` is CCSP, an HTTP path
ending in ``/xccsp`` is XCCSP, one ending in ``/tcsserver`` is Infrasec TCS, a base
ending in ``/v45`` is srv4pos — or is said outright (``kind``). :func:`open_unit` makes
the driver for the kind from :class:`UnitSettings`; every driver is a
:class:`~gateway.devices.control_units.interface.ControlUnit`, so nothing above this module knows
which kind it talks to. The HTTP drivers are imported only when one is asked for: a shop
with a serial unit never loads them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # the configuration reads this module: it loads no driver until one is opened
    from gateway.devices.control_units.interface import ControlUnit

__all__ = [
    "CCSP_BAUDRATES",
    "CREDENTIAL_SETTINGS",
    "UnitKind",
    "UnitSettings",
    "kind_of",
    "open_control_unit",
    "open_unit",
    "public_url",
]

CCSP_BAUDRATES = (9600, 19200, 57600)
"""The speeds a CCSP unit is known to speak at (the reference)."""


class UnitKind(enum.StrEnum):
    CCSP = "ccsp"  # CleanCash Serial Protocol: a serial line, or a serial line over TCP
    XCCSP = "xccsp"  # CleanCash XML over HTTP: the hosted service and LAN servers
    TCS = "tcs"  # Infrasec's cloud control unit (TLS client certificate)
    SRV4POS = "srv4pos"  # srv4pos's cloud control unit (API key)


_HTTP_SUFFIXES = {"/xccsp": UnitKind.XCCSP, "/tcsserver": UnitKind.TCS, "/v45": UnitKind.SRV4POS}


def kind_of(url: str, kind: UnitKind | None = None) -> UnitKind:
    """The kind of unit at ``url``; ``kind`` when given. ValueError says what to write."""
    scheme = urlsplit(url).scheme
    http = scheme in ("http", "https")
    if kind is not None:
        if (kind is UnitKind.CCSP) == http:
            where = "a serial device or socket://" if kind is UnitKind.CCSP else "an http(s)://"
            raise ValueError(f"{url}: a {kind.value} control unit is reached at {where} address")
        return kind
    if not http:
        return UnitKind.CCSP
    path = urlsplit(url).path.rstrip("/")
    for suffix, found in _HTTP_SUFFIXES.items():
        if path.endswith(suffix):
            return found
    raise ValueError(
        f"{url}: cannot tell which kind of control unit this is — an XCCSP address ends in /xccsp, "
        "Infrasec TCS in /tcsserver, srv4pos in /v45; or say it with kind = "
        '"xccsp" | "tcs" | "srv4pos"'
    )


@dataclass(frozen=True, slots=True)
class UnitSettings:
    """What a till needs to reach its unit, whatever the kind (``[control_unit]``).

    Secrets (``client_cert_password``, ``api_key``, a password in the URL) are kept out
    of ``repr``; the drivers keep them out of their URL, words and logs.
    """

    url: str | None  # None in the demo: the till starts the simulated unit
    kind: UnitKind | None = None  # None: follows from the URL
    request_timeout: float = 2.0
    retries: int = 2
    baudrate: int | None = None  # CCSP on a serial line; None: probe (9600, 57600, 19200)
    dtr: bool | None = None  # CCSP: DTR asserted on open (True), or left as the port opens
    ca_cert: Path | None = None  # HTTPS: the CA to trust (PEM); None: the system's
    client_cert: Path | None = None  # TCS: the register's certificate (PKCS#12)
    client_cert_password: str | None = field(default=None, repr=False)
    application_id: str | None = None  # TCS: the application's id at Infrasec
    register_id: str | None = None  # TCS: ManRegisterID (default: the POS id)
    corporate_id: str | None = None  # srv4pos
    cash_register_name: str | None = None  # srv4pos (default: the POS id)
    api_key: str | None = field(default=None, repr=False)  # srv4pos

    @property
    def resolved_kind(self) -> UnitKind | None:
        return None if self.url is None else kind_of(self.url, self.kind)


CREDENTIAL_SETTINGS = (
    "ca_cert",
    "client_cert",
    "client_cert_password",
    "application_id",
    "register_id",
    "corporate_id",
    "cash_register_name",
    "api_key",
)
"""The fields of :class:`UnitSettings` that reach a unit over HTTPS: certificates, ids and keys."""


def open_control_unit(
    url: str, pos_id: str, *, orgnr: str | None = None, kind: UnitKind | None = None, **options: Any
) -> ControlUnit:
    """The driver for the unit at ``url`` (its kind from the URL unless ``kind`` says it).

    ``options`` are the drivers' keyword arguments: the common ones (``request_timeout``,
    ``retries``, ``busy_timeout``, ``busy_poll``, ``watch_interval``) and each kind's own
    (CCSP ``protocol``, ``speeds``, ``backoff``, ``opener``; XCCSP ``ca_cert``; TCS and
    srv4pos theirs). The HTTP kinds need the shop's ``orgnr``.
    """
    found = kind_of(url, kind)
    if found is UnitKind.CCSP:
        from gateway.devices.control_units.ccsp_driver import ControlUnitDriver

        return ControlUnitDriver(url, pos_id, **options)
    if orgnr is None:
        raise ValueError(f"{url}: a {found.value} control unit needs the organisation number (orgnr)")
    if found is UnitKind.XCCSP:
        from gateway.devices.control_units.xccsp_driver import XccspControlUnit

        return XccspControlUnit(url, pos_id, orgnr, **options)
    if found is UnitKind.TCS:
        from gateway.devices.control_units.tcs_driver import TcsControlUnit

        return TcsControlUnit(url, pos_id, orgnr, **options)
    from gateway.devices.control_units.srv4pos_driver import Srv4posControlUnit

    return Srv4posControlUnit(url, pos_id, orgnr, **options)


def open_unit(
    settings: UnitSettings,
    pos_id: str,
    *,
    orgnr: str,
    address: str = "",
    url: str | None = None,
    zone: tzinfo | None = None,
    **options: Any,
) -> ControlUnit:
    """The driver ``settings`` describe, at ``url`` (default the settings' own).

    ``address`` is the place of sale's address (TCS sends it with every receipt); ``zone`` the
    shop's time zone (srv4pos takes each receipt's time as an instant, read in it);
    ``options`` add to or override what the settings give (``watch_interval``, …).
    """
    target = url or settings.url
    if target is None:
        raise ValueError("[control_unit] url: missing (the address of the certified control unit)")
    from gateway.devices.links.line import CCSP_PROTOCOL, CCSP_SPEEDS

    kind = kind_of(target, settings.kind if url is None else None)
    merged: dict[str, Any] = {"request_timeout": settings.request_timeout, "retries": settings.retries}
    if kind is UnitKind.CCSP:
        line_changes: dict[str, Any] = {}
        if settings.baudrate is not None:
            line_changes["baudrate"] = settings.baudrate
        if settings.dtr is not None:
            line_changes["dtr"] = settings.dtr
        merged["protocol"] = CCSP_PROTOCOL.with_line(**line_changes) if line_changes else CCSP_PROTOCOL
        merged["speeds"] = CCSP_SPEEDS if settings.baudrate is None else None
    else:
        merged["ca_cert"] = settings.ca_cert
    if kind is UnitKind.TCS:
        merged.update(
            application_id=settings.application_id or "",
            register_id=settings.register_id,
            register_address=address,
            client_cert=settings.client_cert,
            client_cert_password=settings.client_cert_password,
        )
    elif kind is UnitKind.SRV4POS:
        merged.update(
            corporate_id=settings.corporate_id or "",
            cash_register_name=settings.cash_register_name,
            api_key=settings.api_key or "",
        )
        if zone is not None:
            merged["zone"] = zone
    merged.update(options)
    return open_control_unit(target, pos_id, orgnr=orgnr, kind=kind, **merged)


def public_url(url: str) -> str:
    """``url`` without a user name or password: what may be shown, logged or answered."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
