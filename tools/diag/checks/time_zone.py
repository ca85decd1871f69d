"""Does the computer keep the shop's time? The till uses ``[shop] timezone`` either way;
a computer set to another zone is worth knowing of (its logs and other programs differ).
"""

from __future__ import annotations

from datetime import datetime

from gateway.common.clock import system_zone_name, zone_mismatch, zone_name
from gateway.common.i18n import tr
from gateway.config import Config
from tools.diag.checks import Check, Verdict

__all__ = ["check_time_zone"]


def check_time_zone(config: Config, at: datetime | None = None) -> Check:
    zone = config.shop.timezone
    details = {"shop": zone_name(zone), "computer": system_zone_name()}
    if zone_mismatch(zone, at) is None:
        kept = tr("the computer keeps the shop's time ({zone})").format(zone=zone_name(zone))
        return Check("time zone", Verdict.OK, kept, details)
    # The words of gateway.common.clock's warning (which the log keeps in English), for a person.
    warning = tr(
        "The computer's clock is set to {computer}, the shop's time zone is {shop}: "
        "receipts use the shop's time."
    ).format(**details)
    return Check(
        "time zone",
        Verdict.WARNING,
        warning,
        details,
        tr(
            "set the computer's zone to {zone} (timedatectl set-timezone "
            "{zone}) so that its logs read as the receipts do"
        ).format(zone=zone_name(zone)),
    )
