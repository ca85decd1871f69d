"""The check the schemathesis command line runs beside its own (``SCHEMATHESIS_HOOKS`` names
this module): no answer is a fault of the gateway.

A 5xx that says how the till is (``no_bus``: no ``[mqtt]``, so no orders from the ERP) is an
answer the document names; a 500, or a 503 ``internal_error`` or ``storage_error``, is a fault.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.failures import Failure

__all__ = ["TILL_STATES", "GatewayFault", "no_gateway_fault"]

TILL_STATES = frozenset({"no_bus"})  # 5xx that say how the till is, not that it failed


class GatewayFault(Failure):
    """A 5xx that is a fault of the gateway, not a state of the till."""


@schemathesis.check
def no_gateway_fault(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any) -> bool:
    if response.status_code < 500:
        return True
    code = None
    if response.headers.get("content-type", [""])[0].startswith("application/json"):
        code = (response.json().get("error") or {}).get("code")
    if code in TILL_STATES:
        return True
    raise GatewayFault(
        operation=case.operation.label,
        title="A fault of the gateway",
        message=f"{response.status_code} {code}: {response.text[:500]}",
    )
