"""Every error of the API as JSON: ``{"error": {"code", "message", "field"}}``.

:func:`error_middleware` is the outermost middleware. It turns

* :class:`ApiError` (raised by the handlers) into its status;
* :class:`~gateway.fiscal.errors.FiscalError` into the status the pipeline chose
  (404, 409, 422, 503) with its code and words;
* :class:`~protocols.skv.FieldError` — a receipt that fails validation
  (:class:`~gateway.receipts.model.ReceiptError` is one) — into 422 naming the field;
* aiohttp's own HTTP errors (unknown path 404, wrong method 405, body over the size
  limit 413) into the same JSON shape;
* :class:`~gateway.fiscal.store.StorageFull` — a write the full disk refused — into 507
  ``storage_full`` naming the disk (a sale that may be in the unit already comes as a
  :class:`FiscalError` with ``in_doubt``);
* another database error into 503 ``storage_error``, and anything else into 503
  ``internal_error``: JSON with words, the traceback logged once.

No endpoint answers a bare 500: bad input is a 4xx, a state of the till (a full disk, a
silent unit) has its own code, and a fault in the gateway is still an answer in words.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.fiscal.errors import FiscalError
from gateway.fiscal.storage import full_words
from gateway.fiscal.store import StorageFull
from protocols.skv import FieldError

__all__ = ["ApiError", "error_body", "error_middleware", "error_response"]

log = logging.getLogger("tillgw.api")

# aiohttp's HTTP errors that may reach the middleware, as our codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    431: "headers_too_large",
}


class ApiError(Exception):
    """A request the API answers with ``status`` and a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(error_body(code, message, field), status=status, headers=headers)


def _from_http_exception(request: web.Request, exc: web.HTTPException, max_body: int) -> web.Response:
    status = exc.status
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        message = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    elif status == 404:
        message = f"there is no endpoint {request.path}"
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        message = f"the request body is larger than the limit of {max_body // 1024} KiB"
    else:
        message = exc.text or exc.reason
        if message.startswith(f"{status}: "):
            message = message[len(f"{status}: ") :]
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return error_response(status, code, message, headers=headers)


def error_middleware(max_body: int) -> Middleware:
    """The middleware; ``max_body`` (bytes) is the body limit the 413 message names."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await _answer(request, handler, max_body)

    return middleware


async def _answer(request: web.Request, handler: Handler, max_body: int) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)
    except FiscalError as exc:
        return web.json_response(exc.to_json(), status=exc.status)
    except FieldError as exc:  # ReceiptError and the SKVFS field checks: the input is at fault
        return error_response(422, "invalid", exc.reason, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect or success raised as an exception is not an error
        return _from_http_exception(request, exc, max_body)
    except StorageFull as exc:
        log.error("%s %s not written: %s", request.method, request.path, full_words(exc))
        return web.json_response(
            {
                "error": {
                    "code": "storage_full",
                    "message": f"{full_words(exc)}: nothing was written. Free space on it, then try again.",
                    "in_doubt": False,
                }
            },
            status=507,
        )
    except sqlite3.Error as exc:
        log.exception("%s %s: the database failed", request.method, request.path)
        return error_response(
            503,
            "storage_error",
            f"the till's database could not be read or written ({exc}); nothing was done. "
            "Try again; if it happens again, run tillgw diag and restart tillgw",
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(
            503,
            "internal_error",
            "the till could not do this because of a fault in tillgw (its log has the details); "
            "nothing more is known. Try again; if it happens again, restart tillgw",
        )
