"""Every error of the API as JSON: ``{"error": {"code", "message", "field"}}``.

:func:`error_middleware` is the outermost middleware. It turns

* :class:`ApiError` (raised by the handlers) into its status;
* :class:`~gateway.fiscal.pipeline.FiscalError` into the status the pipeline chose
  (404, 409, 422, 503) with its code and words;
* :class:`~protocols.skv.FieldError` — a receipt that fails validation
  (:class:`~gateway.model.ReceiptError` is one) — into 422 naming the field;
* aiohttp's own HTTP errors (unknown path 404, wrong method 405, body over the size
  limit 413) into the same JSON shape;
* anything else into a 500 with a generic message, logged with its traceback.

Bad input never gives a 500: every way a request can be wrong is one of the above.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.fiscal.pipeline import FiscalError
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
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(
            500, "internal_error", "the gateway failed to handle this request; the error is in its log"
        )
