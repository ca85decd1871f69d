"""What the Business Central and NAV fakes share: Microsoft's OData error body and its
refusal of a text longer than its field, with Code fields kept in capitals."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from tests.sync.fakes.visma import VendorFake


class DynamicsFake(VendorFake):
    """A Dynamics 365 Business Central or NAV service; ``FIELD_LENGTHS`` are its fields'
    maximum lengths and whether each is a Code field (kept in capitals)."""

    FIELD_LENGTHS: ClassVar[dict[str, tuple[int, bool]]] = {}

    def error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response(
            {"error": {"code": code, "message": message}}, status=status, headers=headers
        )

    def _field_refused(self, body: dict[str, Any]) -> web.Response | None:
        """The refusal of a text longer than its field, or None; a Code field's value kept in
        capitals, as the service keeps it."""
        for name, (most, code) in self.FIELD_LENGTHS.items():
            value = body.get(name)
            if not isinstance(value, str):
                continue
            if len(value) > most:
                return self.error(
                    400,
                    "Application_StringExceededLength",
                    f"The length of the string is {len(value)}, but it must be less than or equal to "
                    f"{most} characters. Value: {value}",
                )
            if code:
                body[name] = value.upper()
        return None
