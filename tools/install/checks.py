"""The answers ``tillgw init`` checks as they are given, in the words the till's own
configuration reader uses (:mod:`gateway.config`, :mod:`protocols.skv`), so that a wrong
organisationsnummer is asked again at once rather than refused after every question.
"""

from __future__ import annotations

from gateway.common.clock import UnknownZone, zone_named
from gateway.devices.control_units.kinds import kind_of
from protocols.skv import FieldError, luhn_check_digit, luhn_valid, normalise_orgnr, validate_pos_id

__all__ = ["control_unit_problem", "orgnr_problem", "pos_id_problem", "timezone_problem"]


def orgnr_problem(text: str) -> str | None:
    try:
        digits = normalise_orgnr(text)
    except FieldError as exc:
        return exc.reason
    if not luhn_valid(digits):
        return f"{text!r} has a wrong check digit: the last digit should be {luhn_check_digit(digits[:9])}"
    return None


def pos_id_problem(text: str) -> str | None:
    try:
        validate_pos_id(text)
    except FieldError as exc:
        return exc.reason
    return None


def timezone_problem(text: str) -> str | None:
    try:
        zone_named(text)
    except UnknownZone as exc:
        return str(exc)
    return None


def control_unit_problem(text: str) -> str | None:
    try:
        kind_of(text, None)
    except ValueError as exc:
        return str(exc)
    return None
