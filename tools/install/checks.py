"""The answers ``tillgw init`` checks as they are given, in the words the till's own
configuration reader uses (:mod:`gateway.config`, :mod:`protocols.skv`), so that a wrong
organisationsnummer is asked again at once rather than refused after every question.
"""

from __future__ import annotations

from gateway.common.clock import UnknownZone, zone_named
from gateway.common.i18n import tr
from gateway.devices.control_units.kinds import kind_of
from protocols.skv import (
    POS_ID_MAX_CHARS,
    FieldError,
    luhn_check_digit,
    luhn_valid,
    normalise_orgnr,
    validate_pos_id,
)

__all__ = ["control_unit_problem", "orgnr_problem", "pos_id_problem", "timezone_problem"]


def orgnr_problem(text: str) -> str | None:
    try:
        digits = normalise_orgnr(text)
    except FieldError:
        return tr(
            "{text} is not 10 digits written NNNNNN-NNNN (a personnummer may be written YYYYMMDD-NNNN)"
        ).format(text=repr(text))
    if not luhn_valid(digits):
        return tr("{text} has a wrong check digit: the last digit should be {digit}").format(
            text=repr(text), digit=luhn_check_digit(digits[:9])
        )
    return None


def pos_id_problem(text: str) -> str | None:
    try:
        validate_pos_id(text)
    except FieldError:
        return tr("{text} must be 1 to {most} printable ASCII characters without '#' or ';'").format(
            text=repr(text), most=POS_ID_MAX_CHARS
        )
    return None


def timezone_problem(text: str) -> str | None:
    try:
        zone_named(text)
    except UnknownZone:
        return tr(
            "{text} is not a time zone this computer knows: give an IANA name such as "
            "Europe/Stockholm (a computer without a time-zone database needs the tzdata package)"
        ).format(text=repr(text))
    return None


def control_unit_problem(text: str) -> str | None:
    try:
        kind_of(text, None)
    except ValueError:
        return tr(
            "{url}: cannot tell which kind of control unit this is — an XCCSP address ends in "
            "/xccsp, Infrasec TCS in /tcsserver, srv4pos in /v45"
        ).format(url=text)
    return None
