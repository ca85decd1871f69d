"""A fake Dynamics NAV service tier (OData v4 page services) on 127.0.0.1, enforcing NAV's contract.

What it enforces, as NAV does:

* Basic auth (NavUserPassword, or the user's web service access key as the password);
  anything else is 401;
* page services at ``/{instance}/ODataV4/Company('{name}')/{Service}`` with OData keys
  (``Customer('10000')``, ``SalesInvoice(Document_Type='Invoice',No='1001')``), lists as
  ``{"value": [...]}`` with server-driven paging (``@odata.nextLink``) and ``$top`` /
  ``$skip``, ``$filter`` on the fields used (``Location_Filter`` is the Item page's
  FlowFilter: Inventory of that location);
* ``@odata.etag`` on every entity; a PATCH needs ``If-Match`` and a stale one gets 412;
* validation NAV does: an unknown or blocked customer or item, a line on a document that
  does not exist, a negative line discount, posting a document without lines, posting it
  twice (it is gone once posted), a payment applied to a document that is not open;
* errors as ``{"error": {"code": …, "message": …}}``;
* the posting codeunit as an OData unbound action ``/{instance}/ODataV4/{Service_Procedure}?company=``;
* sales orders (``SalesOrder``, ``SalesOrderSalesLines``, ``PostedSalesShipment``): lines that
  remember what is shipped and invoiced, a PATCH that refuses a quantity below what is shipped
  or shipping more than is left, and the order posting action (``Post_Sales_Order``: documentNo,
  ship, invoice) that refuses nothing to post, deletes an order once it is completely
  invoiced (so it cannot be invoiced twice) and gives the posted invoice ``Order_No``.

NAV publishes no request limit and the fake enforces none; it can answer 503 (a busy
service tier) and drop a connection after a POST it carried out (:class:`VendorFake`'s
faults). It does not refuse a second invoice with the same External_Document_No: never
booking twice is the adapter's job.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.sync.fakes.dynamics import DynamicsFake
from tests.sync.fakes.visma import FilterError, parse_filter

CENT = Decimal("0.01")
INSTANCE = "DynamicsNAV100"
NO_DATE = "0001-01-01"
_PATH = re.compile(r"^Company\('(?P<company>(?:[^']|'')+)'\)/(?P<service>\w+)(?:\((?P<key>.*)\))?$")
FILTERABLE = {
    "No", "Document_Type", "Document_No", "External_Document_No", "Item_No", "Customer_No",
    "Journal_Template_Name", "Journal_Batch_Name", "Last_Date_Modified", "Cross_Reference_Type",
    "Sales_Type", "Sales_Code", "Sell_to_Customer_No", "Status", "Order_No", "Your_Reference",
}  # fmt: skip
"""Fields a filter may name even when the list is empty (NAV knows its fields without records)."""
_KEY_PART = re.compile(r"(?:(\w+)=)?(?:'((?:[^']|'')*)'|(\d+))")  # a text key, or a number (Line_No)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _n(value: Decimal) -> str:
    """A quantity as NAV writes it in a message: ``2``, ``1.5``."""
    return format(value.normalize(), "f")


def _keys(text: str) -> dict[str, str] | str:
    parts = [(name, quoted.replace("''", "'") or number) for name, quoted, number in _KEY_PART.findall(text)]
    if len(parts) == 1 and not parts[0][0]:
        only: str = parts[0][1]
        return only
    return dict(parts)


FIELD_LENGTHS = {
    "External_Document_No": (35, True),  # Sales Header, Gen. Journal Line: Code[35]
    "Your_Reference": (35, False),  # Sales Header: Text[35]
    "Document_No": (20, True),  # Gen. Journal Line, Sales Line: Code[20]
    "Description": (50, False),  # Gen. Journal Line: Text[50] in NAV 2013-2018
}
"""The published lengths of the fields our references go in (NAV's table definitions), and
whether each is a Code field (NAV keeps it in capitals)."""


class NavFake(DynamicsFake):
    FIELD_LENGTHS = FIELD_LENGTHS
    page_size = 3

    def __init__(
        self, username: str = "KASSA", password: str = "hemligt", company: str = "CRONUS Sverige AB"
    ):
        super().__init__()
        self.username = username
        self.password = password
        self.company = company
        self.posting_service = "Post_Sales_Doc"
        self.vat_rates = {
            "MOMS25": Decimal(25),
            "MOMS12": Decimal(12),
            "MOMS6": Decimal(6),
            "MOMSFRI": Decimal(0),
        }
        self.accounts = {"1910", "1580", "2421", "1930", "1689", "3740"}
        self.journal_batches = {("CASHRCPT", "TILLGW"), ("ITEM", "TILLGW")}
        self.items: list[dict[str, Any]] = []
        self.cross_references: list[dict[str, Any]] = []
        self.identifiers: list[dict[str, Any]] = []
        self.prices: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.headers: list[dict[str, Any]] = []  # open sales invoices and credit memos
        self.lines: list[dict[str, Any]] = []  # their lines
        self.posted: list[dict[str, Any]] = []  # posted invoices and credit memos, lines inside
        self.payment_journal: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []  # customer ledger entries
        self.item_journal: list[dict[str, Any]] = []
        self.shipments: list[dict[str, Any]] = []  # posted sales shipments, lines inside
        self.order_posting_service = "Post_Sales_Order"
        self._answered_event: asyncio.Event | None = None  # set after each request (wait_until)
        self.posting_calls = 0
        self._numbers = {"Invoice": 1000, "Credit Memo": 5000, "posted Invoice": 103000,
                         "posted Credit Memo": 104000, "customer": 10000, "Order": 2000,
                         "posted Shipment": 102000}  # fmt: skip
        self._versions = 0

    # -- data ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.url}/{INSTANCE}/ODataV4/Company('{self.company}')"

    def _etag(self, entity: dict[str, Any]) -> None:
        self._versions += 1
        entity["@odata.etag"] = f'W/"JzE2OzEyMzQ1Njc4OTA7{self._versions}Jw=="'

    def add_item(
        self, no: str, description: str, price: str, vat: str = "MOMS25", **more: Any
    ) -> dict[str, Any]:
        item = {
            "No": no,
            "Description": description,
            "Type": "Inventory",
            "Base_Unit_of_Measure": "ST",
            "Item_Category_Code": "",
            "Unit_Price": float(price),
            "Price_Includes_VAT": False,
            "VAT_Prod_Posting_Group": vat,
            "Blocked": False,
            "Last_Date_Modified": date.today().isoformat(),
            "by_location": {},  # location code -> quantity; Inventory is their sum
            **more,
        }
        self._etag(item)
        self.items.append(item)
        return item

    def add_cross_reference(self, item: str, code: str, kind: str = "Bar Code", **more: Any) -> None:
        self.cross_references.append({
            "Item_No": item, "Variant_Code": "", "Unit_of_Measure": "ST", "Cross_Reference_Type": kind,
            "Cross_Reference_Type_No": "", "Cross_Reference_No": code, "Discontinue_Bar_Code": False, **more,
        })  # fmt: skip

    def add_price(self, item: str, group: str, price: str, **more: Any) -> None:
        self.prices.append({
            "Item_No": item, "Sales_Type": "Customer Price Group", "Sales_Code": group,
            "Starting_Date": NO_DATE, "Ending_Date": NO_DATE, "Currency_Code": "", "Variant_Code": "",
            "Unit_of_Measure_Code": "", "Minimum_Quantity": 0, "Unit_Price": float(price),
            "Price_Includes_VAT": False, **more,
        })  # fmt: skip

    def add_customer(self, no: str, name: str, **more: Any) -> dict[str, Any]:
        customer = {
            "No": no, "Name": name, "Address": "", "Address_2": "", "Post_Code": "", "City": "",
            "Phone_No": "", "E_Mail": "", "VAT_Registration_No": "", "Customer_Price_Group": "",
            "Blocked": " ", "Last_Date_Modified": date.today().isoformat(), **more,
        }  # fmt: skip
        self._etag(customer)
        self.customers.append(customer)
        return customer

    def add_order(self, customer: str, *lines: tuple[str, str], **more: Any) -> dict[str, Any]:
        """An open sales order, as a NAV user makes one: (item No., quantity) lines priced from the items."""
        today = date.today().isoformat()
        created = self._create_header(
            {"Sell_to_Customer_No": customer, "Posting_Date": today, "Order_Date": today, **more}, "Order"
        )
        assert created.status == 201, created.text
        header = self.headers[-1]
        for item, quantity in lines:
            body = {"Document_Type": "Order", "Document_No": header["No"], "Type": "Item", "No": item,
                    "Quantity": float(quantity), "Description": self._item(item)["Description"]}  # type: ignore[index]  # fmt: skip
            made = self._create_line(body)
            assert made.status == 201, made.text
        return header

    def inventory(self, item: dict[str, Any], location: str | None = None) -> Decimal:
        stock: dict[str, Any] = item["by_location"]
        if location is not None:
            return _dec(stock.get(location, 0))
        return sum((_dec(q) for q in stock.values()), Decimal(0))

    def total(self, document: dict[str, Any]) -> Decimal:
        """A document's amount incl. VAT as NAV computes it: VAT once per VAT group on its lines' sum."""
        by_group: dict[str, Decimal] = {}
        for line in document["lines"]:
            by_group[line["VAT_Prod_Posting_Group"]] = by_group.get(
                line["VAT_Prod_Posting_Group"], Decimal(0)
            ) + _dec(line["Line_Amount"])
        return sum(
            (
                net + (net * self.vat_rates[g] / 100).quantize(CENT, ROUND_HALF_UP)
                for g, net in by_group.items()
            ),
            Decimal(0),
        )

    def post_payment_journal(self) -> None:
        """What NAV's user does with the batch: every line to the customer ledger, applied."""
        for line in self.payment_journal:
            self.ledger.append({
                "Entry_No": len(self.ledger) + 1, "Customer_No": line["Account_No"],
                "Document_Type": line["Document_Type"], "Document_No": line["Document_No"],
                "External_Document_No": line["External_Document_No"], "Description": line["Description"],
                "Amount": line["Amount"], "Posting_Date": line["Posting_Date"],
            })  # fmt: skip
            applied = next((p for p in self.posted if p["No"] == line.get("Applies_to_Doc_No")), None)
            if applied is not None:
                applied["Remaining_Amount"] = float(_dec(applied["Remaining_Amount"]) + _dec(line["Amount"]))
        self.payment_journal.clear()

    # -- contract ------------------------------------------------------------------------

    def is_api(self, request: web.Request) -> bool:
        return request.path.startswith(f"/{INSTANCE}/ODataV4/")

    def _refusal(self, request: web.Request) -> web.Response | None:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm=""'})
        f = self.faults
        hit = next((m for m in f.unavailable_when if m(request)), None)
        if hit is not None:
            f.unavailable_when.remove(hit)
            return self.error(503, "Unavailable", "The server is busy. Try again later.")
        if f.unavailable:
            f.unavailable -= 1
            return self.error(503, "Unavailable", "The server is busy. Try again later.")
        return None

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", f"/{INSTANCE}/ODataV4/{{rest:.*}}", self._dispatch)

    def _sets(self) -> dict[str, tuple[list[dict[str, Any]], Any]]:
        """Service name -> (its entities, a selector over them for the request)."""
        return {
            "SalesInvoice": (self.headers, lambda e: e["Document_Type"] == "Invoice"),
            "SalesCreditMemo": (self.headers, lambda e: e["Document_Type"] == "Credit Memo"),
            "SalesInvoiceSalesLines": (self.lines, lambda e: e["Document_Type"] == "Invoice"),
            "SalesCreditMemoSalesLines": (self.lines, lambda e: e["Document_Type"] == "Credit Memo"),
            "PostedSalesInvoice": (self.posted, lambda e: e["Document_Type"] == "Invoice"),
            "PostedSalesCreditMemo": (self.posted, lambda e: e["Document_Type"] == "Credit Memo"),
            "CashReceiptJournal": (self.payment_journal, None),
            "CustomerLedgerEntries": (self.ledger, None),
            "Item": (self.items, None),
            "ItemCrossReference": (self.cross_references, None),
            "ItemIdentifier": (self.identifiers, None),
            "SalesPrice": (self.prices, None),
            "Customer": (self.customers, None),
            "ItemJournal": (self.item_journal, None),
            "SalesOrder": (self.headers, lambda e: e["Document_Type"] == "Order"),
            "SalesOrderSalesLines": (self.lines, lambda e: e["Document_Type"] == "Order"),
            "PostedSalesShipment": (self.shipments, None),
        }

    async def wait_until(self, check: Callable[[], bool]) -> None:
        """Return once ``check()`` holds, looking again after every request the fake answers."""
        while not check():
            await self._answered().wait()

    def _answered(self) -> asyncio.Event:
        if self._answered_event is None:
            self._answered_event = asyncio.Event()
        return self._answered_event

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch_one(request)
        finally:
            event, self._answered_event = self._answered_event, None
            if event is not None:
                event.set()

    async def _dispatch_one(self, request: web.Request) -> web.StreamResponse:
        rest = unquote(request.match_info["rest"])
        if request.method == "POST" and re.fullmatch(r"\w+", rest):
            return await self._action(request, rest)
        m = _PATH.match(rest)
        if m is None or m.group("service") not in self._sets():
            return self.error(
                404,
                "BadRequest_NotFound",
                f"No HTTP resource was found that matches the request URI '{rest}'.",
            )
        if m.group("company").replace("''", "'") != self.company:
            return self.error(
                400, "Internal_CompanyNotFound", f"Cannot open the company '{m.group('company')}'."
            )
        service, key = m.group("service"), m.group("key")
        entities, selector = self._sets()[service]
        chosen = [e for e in entities if selector is None or selector(e)]
        if request.method == "GET" and key is None:
            return self._list(request, service, chosen)
        if request.method == "GET":
            found = self._find(chosen, _keys(key or ""), service)
            if found is None:
                return self.error(
                    404,
                    "Internal_RecordNotFound",
                    f"The {service} does not exist. Identification fields and values: {key}",
                )
            return web.json_response(self._shown(found))
        if request.method == "POST" and key is None:
            body = await request.json()
            return await self._create(service, body)
        if request.method == "PATCH" and key is not None:
            return await self._patch(request, service, chosen, key)
        return self.error(405, "BadRequest_MethodNotAllowed", f"{request.method} is not allowed on {service}")

    @staticmethod
    def _shown(entity: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in entity.items() if k not in ("by_location", "lines")}

    @staticmethod
    def _find(
        entities: list[dict[str, Any]], key: dict[str, str] | str, service: str
    ) -> dict[str, Any] | None:
        if isinstance(key, str):
            return next((e for e in entities if e.get("No") == key), None)
        return next((e for e in entities if all(str(e.get(k)) == v for k, v in key.items())), None)

    def _list(self, request: web.Request, service: str, chosen: list[dict[str, Any]]) -> web.Response:
        q = request.query
        location: str | None = None
        shown = [self._shown(e) for e in chosen]
        if service == "Item":
            shown = [{**self._shown(e), "Inventory": float(self.inventory(e))} for e in chosen]
        if "$filter" in q:
            text = q["$filter"]
            m = re.search(r"\s*(?:and\s+)?Location_Filter eq '((?:[^']|'')*)'", text)
            if service == "Item" and m is not None:
                location = m.group(1).replace("''", "'")
                text = (text[: m.start()] + text[m.end() :]).strip()
                text = re.sub(r"^and\s+|\s+and$", "", text)
                shown = [
                    {**s, "Inventory": float(self.inventory(e, location))}
                    for s, e in zip(shown, chosen, strict=True)
                ]
            if text:
                fields = set().union(*(s.keys() for s in shown)) if shown else set()
                try:
                    check = parse_filter(text, fields | FILTERABLE)
                except FilterError as exc:
                    return self.error(400, "BadRequest", f"Invalid filter expression: {exc}")
                shown = [s for s in shown if check(s)]
        try:
            skip = int(q.get("$skip", "0")) + int(q.get("$skiptoken", "0"))
            top = int(q["$top"]) if "$top" in q else None
        except ValueError:
            return self.error(400, "BadRequest", "$top, $skip and $skiptoken must be whole numbers")
        end = len(shown) if top is None else min(len(shown), skip + top)
        page = shown[skip : min(end, skip + self.page_size)]
        body: dict[str, Any] = {"@odata.context": f"{self.base_url}/$metadata#{service}", "value": page}
        if skip + self.page_size < end:
            query = {k: v for k, v in q.items() if k not in ("$skiptoken", "$skip")}
            query["$skiptoken"] = str(skip + self.page_size)
            if top is not None:
                query["$top"] = str(end - skip - self.page_size)
            body["@odata.nextLink"] = str(request.url.with_query(query))
        return web.json_response(body)

    # -- writes --------------------------------------------------------------------------

    def _customer(self, no: Any) -> dict[str, Any] | None:
        return next((c for c in self.customers if c["No"] == no), None)

    def _item(self, no: Any) -> dict[str, Any] | None:
        return next((i for i in self.items if i["No"] == no), None)

    def _not_found(self, table: str, fields: str) -> web.Response:
        return self.error(
            400,
            "Internal_RecordNotFound",
            f"The {table} does not exist. Identification fields and values: {fields}",
        )

    async def _create(self, service: str, body: dict[str, Any]) -> web.Response:
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        handler = {
            "Customer": self._create_customer,
            "SalesInvoice": lambda b: self._create_header(b, "Invoice"),
            "SalesCreditMemo": lambda b: self._create_header(b, "Credit Memo"),
            "SalesInvoiceSalesLines": self._create_line,
            "SalesCreditMemoSalesLines": self._create_line,
            "CashReceiptJournal": self._create_payment,
            "ItemJournal": self._create_item_journal_line,
            "SalesOrder": lambda b: self._create_header(b, "Order"),
            "SalesOrderSalesLines": self._create_line,
        }.get(service)
        if handler is None:
            return self.error(405, "BadRequest_MethodNotAllowed", f"Insert is not allowed on {service}")
        response: web.Response = handler(body)
        return response

    def _create_customer(self, body: dict[str, Any]) -> web.Response:
        if not isinstance(body.get("Name"), str):
            return self.error(400, "BadRequest", "Name must be a text")
        self._numbers["customer"] += 10
        customer = self.add_customer(
            str(self._numbers["customer"]), body["Name"], **{k: v for k, v in body.items() if k != "No"}
        )
        return web.json_response(self._shown(customer), status=201)

    def _create_header(self, body: dict[str, Any], kind: str) -> web.Response:
        number = body.get("Sell_to_Customer_No")
        customer = self._customer(number)
        if customer is None:
            return self._not_found("Customer", f"No.='{number}'")
        if customer["Blocked"].strip() == "All":
            return self.error(
                400,
                "Application_DialogException",
                f"You cannot create this type of document when Customer {number} is blocked with type All",
            )
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(body.get("Posting_Date"))):
            return self.error(400, "BadRequest", "Posting_Date must be a date")
        self._numbers[kind] += 1
        header = {
            "Document_Type": kind,
            "No": str(self._numbers[kind]),
            "Salesperson_Code": "",
            **({"Status": "Open", "Your_Reference": "", "External_Document_No": "",
                "Price_Includes_VAT": False, "Sell_to_Customer_Name": customer["Name"]}
               if kind == "Order" else {}),
            **body,
            "lines": [],
        }  # fmt: skip
        self._etag(header)
        self.headers.append(header)
        return web.json_response(self._shown(header), status=201)

    def _create_line(self, body: dict[str, Any]) -> web.Response:
        kind, number = body.get("Document_Type"), body.get("Document_No")
        header = next((h for h in self.headers if h["Document_Type"] == kind and h["No"] == number), None)
        if header is None:
            return self._not_found("Sales Header", f"Document Type='{kind}',No.='{number}'")
        if body.get("Type") == "Item":
            item = self._item(body.get("No"))
            if item is None:
                return self._not_found("Item", f"No.='{body.get('No')}'")
            if item["Blocked"]:
                return self.error(
                    400,
                    "Application_FieldValidationException",
                    f"Blocked must be equal to 'No'  in Item: No.={item['No']}. Current value is 'Yes'.",
                )
            group = body.get("VAT_Prod_Posting_Group") or item["VAT_Prod_Posting_Group"]
        elif body.get("Type") == "G/L Account":
            if body.get("No") not in self.accounts:
                return self._not_found("G/L Account", f"No.='{body.get('No')}'")
            group = body.get("VAT_Prod_Posting_Group") or "MOMSFRI"
        else:
            return self.error(400, "BadRequest", f"Type {body.get('Type')!r} is not supported here")
        if group not in self.vat_rates:
            return self._not_found("VAT Posting Setup", f"VAT Prod. Posting Group='{group}'")
        if body.get("Type") == "Item" and "Unit_Price" not in body and item is not None:
            body = {**body, "Unit_Price": item["Unit_Price"]}  # NAV prices the line from the item card
        quantity, price = _dec(body.get("Quantity")), _dec(body.get("Unit_Price"))
        amount = _dec(body.get("Line_Amount", (quantity * price).quantize(CENT, ROUND_HALF_UP)))
        discount = (quantity * price).quantize(CENT, ROUND_HALF_UP) - amount
        if discount * (1 if quantity >= 0 else -1) < 0:
            return self.error(
                400, "Application_FieldValidationException", "Line Discount % must not be less than 0."
            )
        line = {**body, "Line_No": len(header["lines"]) * 10000 + 10000, "VAT_Prod_Posting_Group": group,
                "Line_Amount": float(amount), "Line_Discount_Amount": float(discount)}  # fmt: skip
        if kind == "Order":
            line.update(Quantity_Shipped=0.0, Quantity_Invoiced=0.0, Qty_to_Ship=float(quantity))
        self._etag(line)
        header["lines"].append(line)
        self.lines.append(line)
        return web.json_response(line, status=201)

    def _create_payment(self, body: dict[str, Any]) -> web.Response:
        batch = (body.get("Journal_Template_Name"), body.get("Journal_Batch_Name"))
        if batch not in self.journal_batches:
            return self._not_found(
                "Gen. Journal Batch", f"Journal Template Name='{batch[0]}',Name='{batch[1]}'"
            )
        if body.get("Account_Type") != "Customer" or self._customer(body.get("Account_No")) is None:
            return self._not_found("Customer", f"No.='{body.get('Account_No')}'")
        if body.get("Bal_Account_No") not in self.accounts:
            return self._not_found("G/L Account", f"No.='{body.get('Bal_Account_No')}'")
        if not _dec(body.get("Amount")):
            return self.error(400, "BadRequest", "Amount must have a value")
        applies = body.get("Applies_to_Doc_No")
        if applies is not None:
            target = next(
                (
                    p
                    for p in self.posted
                    if p["No"] == applies and p["Document_Type"] == body.get("Applies_to_Doc_Type")
                ),
                None,
            )
            if target is None or not _dec(target["Remaining_Amount"]):
                return self.error(
                    400,
                    "Application_DialogException",
                    f"There is no open {body.get('Applies_to_Doc_Type')} {applies} "
                    f"for customer {body.get('Account_No')}.",
                )
        line = {**body, "Line_No": 10000 * (len(self.payment_journal) + 1)}
        self._etag(line)
        self.payment_journal.append(line)
        return web.json_response(line, status=201)

    def _create_item_journal_line(self, body: dict[str, Any]) -> web.Response:
        batch = (body.get("Journal_Template_Name"), body.get("Journal_Batch_Name"))
        if batch not in self.journal_batches:
            return self._not_found(
                "Item Journal Batch", f"Journal Template Name='{batch[0]}',Name='{batch[1]}'"
            )
        if self._item(body.get("Item_No")) is None:
            return self._not_found("Item", f"No.='{body.get('Item_No')}'")
        if body.get("Entry_Type") not in ("Positive Adjmt.", "Negative Adjmt."):
            return self.error(
                400, "BadRequest", f"Entry_Type {body.get('Entry_Type')!r} is not an adjustment"
            )
        if _dec(body.get("Quantity")) <= 0:
            return self.error(400, "BadRequest", "Quantity must be positive for an adjustment")
        line = {**body, "Line_No": 10000 * (len(self.item_journal) + 1)}
        self._etag(line)
        self.item_journal.append(line)
        return web.json_response(line, status=201)

    def post_item_journal(self) -> None:
        """What NAV's user does with the batch: each line into the item's inventory."""
        for line in self.item_journal:
            item = self._item(line["Item_No"])
            assert item is not None
            sign = 1 if line["Entry_Type"] == "Positive Adjmt." else -1
            where = line.get("Location_Code", "")
            item["by_location"][where] = float(
                _dec(item["by_location"].get(where, 0)) + sign * _dec(line["Quantity"])
            )
        self.item_journal.clear()

    async def _patch(
        self, request: web.Request, service: str, chosen: list[dict[str, Any]], key: str
    ) -> web.Response:
        if service not in ("Customer", "SalesOrder", "SalesOrderSalesLines"):
            return self.error(405, "BadRequest_MethodNotAllowed", f"Modify is not allowed on {service}")
        entity = self._find(chosen, _keys(key), service)
        if entity is None:
            return self._not_found("Customer", f"No.={key}")
        etag = request.headers.get("If-Match")
        if etag is None:
            return self.error(
                400,
                "BadRequest",
                "Could not validate the client concurrency token. The required If-Match header is missing.",
            )
        if etag not in ("*", entity["@odata.etag"]):
            return self.error(
                412,
                "Internal_EntityChanged",
                f"Another user has already changed the record. Customer No.={entity['No']}",
            )
        body = await request.json()
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        if service == "SalesOrderSalesLines":
            return self._patch_order_line(entity, body)
        entity.update({k: v for k, v in body.items() if k not in ("No", "@odata.etag")})
        entity["Last_Date_Modified"] = date.today().isoformat()
        self._etag(entity)
        return web.json_response(self._shown(entity))

    def _patch_order_line(self, line: dict[str, Any], body: dict[str, Any]) -> web.Response:
        """Quantity, price, amount or what to ship of an order's line, checked as NAV checks them."""
        shipped = _dec(line["Quantity_Shipped"])
        quantity = _dec(body.get("Quantity", line["Quantity"]))
        if quantity < shipped:
            return self.error(
                400,
                "Application_FieldValidationException",
                f"Quantity must not be less than {_n(shipped)} (Quantity Shipped) in Sales Line: "
                f"Document Type=Order, Document No.={line['Document_No']}, Line No.={line['Line_No']}",
            )
        price = _dec(body.get("Unit_Price", line["Unit_Price"]))
        gross = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        amount = _dec(body["Line_Amount"]) if "Line_Amount" in body else gross
        if gross - amount < 0:
            return self.error(
                400, "Application_FieldValidationException", "Line Discount % must not be less than 0."
            )
        to_ship = _dec(body["Qty_to_Ship"]) if "Qty_to_Ship" in body else quantity - shipped
        if to_ship > quantity - shipped:
            return self.error(
                400,
                "Application_DialogException",
                f"You cannot ship more than {_n(quantity - shipped)} units.",
            )
        line.update(
            Quantity=float(quantity), Unit_Price=float(price), Line_Amount=float(amount),
            Line_Discount_Amount=float(gross - amount), Qty_to_Ship=float(to_ship),
            **{k: v for k, v in body.items() if k == "Description"},
        )  # fmt: skip
        self._etag(line)
        return web.json_response(line)

    def _post_order(self, body: dict[str, Any]) -> web.Response:
        """Post a sales order: ship what is to ship, invoice what is shipped and not invoiced.

        As NAV: nothing to post is refused; an order completely invoiced is deleted (so it
        cannot be invoiced again); the posted invoice carries Order_No and Your_Reference.
        """
        number, ship, invoice = body.get("documentNo"), bool(body.get("ship")), bool(body.get("invoice"))
        header = next((h for h in self.headers if h["Document_Type"] == "Order" and h["No"] == number), None)
        if header is None:
            return self._not_found("Sales Header", f"Document Type='Order',No.='{number}'")
        if not ship and not invoice:
            return self.error(400, "BadRequest", "ship or invoice (or both) must be true")
        plan = []
        for line in header["lines"]:
            quantity = _dec(line["Quantity"])
            to_ship = _dec(line["Qty_to_Ship"]) if ship else Decimal(0)
            if to_ship > quantity - _dec(line["Quantity_Shipped"]):
                return self.error(
                    400,
                    "Application_DialogException",
                    f"You cannot ship more than {_n(quantity - _dec(line['Quantity_Shipped']))} units.",
                )
            to_invoice = _dec(line["Quantity_Shipped"]) + to_ship - _dec(line["Quantity_Invoiced"])
            plan.append((line, to_ship, to_invoice if invoice else Decimal(0)))
        if not any(s or i for _, s, i in plan):
            return self.error(400, "Application_DialogException", "There is nothing to post.")
        self.posting_calls += 1
        if ship and any(s for _, s, _ in plan):
            self._numbers["posted Shipment"] += 1
            self.shipments.append({
                **self._shown(header), "No": str(self._numbers["posted Shipment"]), "Order_No": number,
                "lines": [{**line, "Quantity": float(s)} for line, s, _ in plan if s],
            })  # fmt: skip
        if invoice and any(i for _, _, i in plan):
            lines = [
                {**line, "Quantity": float(i),
                 "Line_Amount": float((_dec(line["Line_Amount"]) * i / _dec(line["Quantity"])
                                       ).quantize(CENT))}
                for line, _, i in plan if i
            ]  # fmt: skip
            total = self.total({"lines": lines})
            self._numbers["posted Invoice"] += 1
            posted = {
                **self._shown(header), "Document_Type": "Invoice", "No": str(self._numbers["posted Invoice"]),
                "Order_No": number, "Amount_Including_VAT": float(total), "Remaining_Amount": float(total),
                "lines": lines,
            }  # fmt: skip
            self._etag(posted)
            self.posted.append(posted)
        for line, to_ship, to_invoice in plan:
            line["Quantity_Shipped"] = float(_dec(line["Quantity_Shipped"]) + to_ship)
            line["Quantity_Invoiced"] = float(_dec(line["Quantity_Invoiced"]) + to_invoice)
            line["Qty_to_Ship"] = float(_dec(line["Quantity"]) - _dec(line["Quantity_Shipped"]))
            self._etag(line)
        if all(_dec(x["Quantity_Invoiced"]) == _dec(x["Quantity"]) for x in header["lines"]):
            self.headers.remove(header)  # completely invoiced: NAV deletes the order
            self.lines = [
                x for x in self.lines if not (x["Document_Type"] == "Order" and x["Document_No"] == number)
            ]
        return web.json_response(
            {"@odata.context": f"{self.url}/{INSTANCE}/ODataV4/$metadata#Edm.String", "value": number}
        )

    async def _action(self, request: web.Request, name: str) -> web.Response:
        if name == self.order_posting_service and request.query.get("company") == self.company:
            return self._post_order(await request.json())
        if name != self.posting_service:
            return self.error(
                404,
                "BadRequest_NotFound",
                f"No HTTP resource was found that matches the request URI '{name}'.",
            )
        if request.query.get("company") != self.company:
            return self.error(
                400, "Internal_CompanyNotFound", f"Cannot open the company '{request.query.get('company')}'."
            )
        body = await request.json()
        kind, number = body.get("documentType"), body.get("documentNo")
        self.posting_calls += 1
        header = next((h for h in self.headers if h["Document_Type"] == kind and h["No"] == number), None)
        if header is None:
            return self._not_found("Sales Header", f"Document Type='{kind}',No.='{number}'")
        if not header["lines"]:
            return self.error(400, "Application_DialogException", "There is nothing to post.")
        total = self.total(header)
        if total < 0:
            return self.error(
                400,
                "Application_DialogException",
                f"The total amount for the {kind.lower()} must be 0 or greater.",
            )
        self._numbers[f"posted {kind}"] += 1
        posted = {
            **self._shown(header),
            "No": str(self._numbers[f"posted {kind}"]),
            "Pre_Assigned_No": header["No"],
            "Amount_Including_VAT": float(total),
            "Remaining_Amount": float(total if kind == "Invoice" else -total),
            "lines": header["lines"],
        }
        self._etag(posted)
        self.posted.append(posted)
        self.headers.remove(header)
        self.lines = [
            x for x in self.lines if not (x["Document_Type"] == kind and x["Document_No"] == number)
        ]
        return web.json_response(
            {"@odata.context": f"{self.url}/{INSTANCE}/ODataV4/$metadata#Edm.String", "value": posted["No"]}
        )


VAT_GROUPS = {"MOMS25": 25, "MOMS12": 12, "MOMS6": 6, "MOMSFRI": 0}
ACCOUNTS = {"cash": "1910", "card": "1580", "gift_card": "2421", "swish": "1930", "other": "1689"}


def settings_for(fake: NavFake, **over: Any) -> dict[str, Any]:
    """``[sync.nav]`` for ``fake``: its address and login, the cash customer KONTANT, the VAT
    posting groups and payment accounts; ``over`` adds or replaces keys."""
    return {
        "base_url": fake.base_url,
        "username": fake.username,
        "password": fake.password,
        "customer": "KONTANT",
        "vat_groups": VAT_GROUPS,
        "payment_accounts": ACCOUNTS,
        **over,
    }
