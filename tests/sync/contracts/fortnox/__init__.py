"""Fortnox API v3's contract: the extract of its OpenAPI definition (README.md), the
parameters Fortnox's guides give every list, and where the definition is known wrong."""

from __future__ import annotations

from pathlib import Path

from tests.sync.contracts.openapi_check import Contract, Deviations

__all__ = ["CONTRACT", "LIST_LIMIT"]

LIST_LIMIT = 500  # the guides: "limit" at most 500

# Fortnox's guide "Parameters": paging and sorting on every list, and the global searches.
_GLOBAL_QUERY = {
    "page": {"type": "integer"},
    "limit": {"type": "integer"},
    "offset": {"type": "integer"},
    "sortorder": {"type": "string", "enum": ["ascending", "descending"]},
    "lastmodified": {"type": "string"},
    "financialyear": {"type": "integer"},
    "financialyeardate": {"type": "string", "format": "date"},
    "fromdate": {"type": "string", "format": "date"},
    "todate": {"type": "string", "format": "date"},
}
# The guide: fromdate and todate are "only available for invoices, orders, offers and vouchers".
_DATE_RANGE = ("/3/invoices", "/3/orders", "/3/offers", "/3/vouchers")

CONTRACT = Contract.load(
    Path(__file__).with_name("openapi-extract.json"),
    global_query=_GLOBAL_QUERY,
    global_query_paths={"fromdate": _DATE_RANGE, "todate": _DATE_RANGE},
    deviations=Deviations(
        # Article numbers are text in Fortnox (up to 50 characters, ArticleListItem says
        # so); the path parameter's "integer" is an error of the generated definition.
        path_types={"ArticleNumber": "string"},
        # A voucher's Year is the financial year Fortnox puts it in (the ``financialyear``
        # parameter), set by Fortnox: the voucher guide lists it as read-only.
        not_required=frozenset({("fortnox_Voucher", "Year")}),
        # Fortnox answers errors as {"ErrorInformation": {"error", "message", "code"}}
        # (its guide "Errors"); the definition spells the keys Error, Message, Code.
        any_case=frozenset({"fortnox_ErrorInformationWrap_ErrorInformation"}),
    ),
)
