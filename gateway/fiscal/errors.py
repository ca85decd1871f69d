"""A fiscal operation that did not happen, in words for the POS.

:class:`FiscalError` is what the pipeline raises and the API answers with (its ``code`` and
HTTP ``status``); :func:`storage_full` words a write the full disk refused, saying whether
the control unit may hold the receipt. A refusal by the control unit is kept as the request's
result (:func:`refusal_result`), so a repeat of the same request gets the same words
(:func:`refused_again`).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from gateway.fiscal.storage import full_words
from gateway.fiscal.store import StorageFull

__all__ = ["FiscalError", "refusal_result", "refused_again", "storage_full"]


class FiscalError(Exception):
    """A fiscal operation that did not happen; ``code`` and ``status`` are for the API."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        field: str | None = None,
        *,
        repeat: bool = False,
        in_doubt: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.repeat = repeat  # the same answer this request got before (no news)
        # storage_full only: True when the unit may hold the receipt (repeat the same id)
        self.in_doubt = in_doubt

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.in_doubt is not None:
            error["in_doubt"] = self.in_doubt
        return {"error": error}


def storage_full(exc: StorageFull, receipt_no: int | None = None, *, this_sale: bool = True) -> FiscalError:
    """507 for a write the full disk refused; ``receipt_no``: a receipt the unit may hold, unwritten."""
    if receipt_no is None:
        return FiscalError(
            "storage_full",
            f"{full_words(exc)}: the sale could not be written and nothing was registered. "
            "Free space on the disk, then send it again.",
            507,
            in_doubt=False,
        )
    waiting = (
        f"{full_words(exc)}: receipt {receipt_no} is registered with the control unit but could not be "
        "written to the journal. Nothing is lost: free space on the disk, then send the same request again "
        "(the same id) to get the receipt. No new sale until then."
    )
    if not this_sale:
        return FiscalError(
            "storage_full", f"Nothing was registered for this sale. {waiting}", 507, in_doubt=False
        )
    return FiscalError("storage_full", waiting, 507, in_doubt=True)


class _Error(msgspec.Struct, frozen=True):
    code: str
    message: str


class _Refusal(msgspec.Struct, frozen=True):
    """A refused request's result: the answer the POS got, given again to a repeat."""

    error: _Error


def refusal_result(code: str, words: str) -> str:
    """The JSON kept as a refused request's result (``requests.result``)."""
    return json.dumps(msgspec.to_builtins(_Refusal(_Error(code, words))))


def refused_again(result: str, *, repeat: bool) -> FiscalError:
    """The refusal a request's stored ``result`` holds, to raise again; ``repeat``: no news for the POS."""
    error = msgspec.json.decode(result, type=_Refusal).error
    return FiscalError(error.code, error.message, 503, repeat=repeat)
