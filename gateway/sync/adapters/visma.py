"""Visma eAccounting (eEkonomi) API v2: each Z report as one voucher; articles and customers back.

Booking (docs/adapters/visma.md): a Z report becomes ``POST /v2/vouchers`` with the rows
of :func:`gateway.sync.booking.book_z` (debit and credit in kronor), dated the day of the
Z. Visma takes no idempotency key, so the voucher text ends with our own reference
``tillgw {orgnr}/{store}/{register} Z{n}``, and before a voucher is created the day's
vouchers are searched for it (``$filter=VoucherDate eq YYYY-MM-DD``): a voucher that
is already there — made by an earlier run that crashed before its local record, or by a
POST whose answer was lost — is recorded and never made again. The ``visma_vouchers``
table records the voucher in the same transaction that marks the message processed.

A cost centre (``[sync.visma].cost_center``, the item's short name as the company's
cost centre list shows it) goes on every row. Visma wants the item's id, in the row field
of its cost centre (``CostCenterItemId1`` … ``3``, after the cost centre's ``Number``):
the adapter looks the code up in ``GET /v2/costcenters`` once and keeps the answer.

Master data (:class:`VismaSource`): articles with their VAT rate from the article's
account coding, barcodes, stock balance; customers; changes by ``ChangedUtc``.

The API allows 600 requests a minute per client and endpoint: one
:class:`~gateway.sync.http.limiter.SlidingWindowLimiter` (and one
:class:`~gateway.sync.http.client.ApiClient`) per endpoint.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.bus.messages import BusMessage
from gateway.config import ConfigError, _Section
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.odata import changed_since
from gateway.sync.adapters.source_common import (
    contact_fields,
    failures_as,
    iso_time,
    ore,
    postal_address,
    stock_levels,
)
from gateway.sync.booking import BookingError, book_z, z_figures
from gateway.sync.config import AccountsConfig, from_date_of
from gateway.sync.http.client import ApiClient, ApiError, ApiUnavailable, Auth, OutcomeUnknown
from gateway.sync.http.limiter import SlidingWindowLimiter
from gateway.sync.http.oauth import OAuthTokens, TokenEndpoint, TokenError
from gateway.sync.inbox import now_text
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer
from gateway.sync.references import voucher_tag

__all__ = [
    "VISMA_SCHEMA",
    "VismaAdapter",
    "VismaApi",
    "VismaConfig",
    "VismaSource",
    "parse_visma",
    "visma_error",
    "visma_tokens",
    "z_reference",
]

DEFAULT_BASE_URL = "https://eaccountingapi.vismaonline.com/v2"
DEFAULT_TOKEN_URL = "https://identity.vismaonline.com/connect/token"
DEFAULT_VOUCHER_TEXT = "Z-dagrapport {z_no} kassa {register}"
REQUESTS_PER_MINUTE = 600
COST_CENTER_CODE_LENGTH = 9  # Visma's ShortName of a cost centre item: at most 9 characters

VISMA_SCHEMA = """
CREATE TABLE IF NOT EXISTS visma_vouchers (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    z_no INTEGER NOT NULL,
    msg_id TEXT NOT NULL,             -- the message it was made from
    voucher_id TEXT NOT NULL,         -- Visma's Id of the voucher
    voucher_number TEXT,              -- NumberAndNumberSeries, as Visma numbered it
    booked_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, register, z_no)
);
"""


@dataclass(frozen=True, slots=True)
class VismaConfig:
    client_id: str
    client_secret: str
    base_url: str = DEFAULT_BASE_URL
    token_url: str = DEFAULT_TOKEN_URL
    tenant: str = ""  # names the company's row in the token file when one module serves several
    voucher_text: str = DEFAULT_VOUCHER_TEXT  # our reference is appended
    from_date: date | None = None  # Z reports of earlier days are not booked (booked before the switch)
    prices: str = "net"  # "net": NetPrice (excl. VAT) to the tills; "gross": GrossPrice
    page_size: int = 100
    cost_center: str | None = None  # every voucher row's cost centre item, by its ShortName; None: none


def parse_visma(table: Mapping[str, Any], where: str = "sync.visma") -> VismaConfig:
    """``[sync.visma]``; :class:`ConfigError` names the key that is wrong."""
    s = _Section(
        dict(table),
        where,
        {
            "base_url", "token_url", "client_id", "client_secret", "tenant",
            "voucher_text", "from_date", "prices", "page_size", "cost_center",
        },
    )  # fmt: skip
    base_url = (s.text("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
    token_url = s.text("token_url", DEFAULT_TOKEN_URL) or DEFAULT_TOKEN_URL
    for key, url in (("base_url", base_url), ("token_url", token_url)):
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{s.where(key)}: {url!r} is not an http(s) URL")
    text = s.text("voucher_text", DEFAULT_VOUCHER_TEXT) or DEFAULT_VOUCHER_TEXT
    try:
        text.format(z_no=1, register="KASSA1", store="s", day="2026-01-01")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{s.where('voucher_text')}: {text!r} may name {{z_no}}, {{register}}, {{store}} and {{day}} "
            f"only ({exc})"
        ) from None
    from_date = from_date_of(table, s)
    cost_center = s.text("cost_center")
    if (
        cost_center is not None
        and not 0 < len(cost_center.strip()) == len(cost_center) <= COST_CENTER_CODE_LENGTH
    ):
        raise ConfigError(
            f"{s.where('cost_center')}: {cost_center!r} must be the cost centre item's short name as Visma "
            f"shows it: 1-{COST_CENTER_CODE_LENGTH} characters, no spaces around it"
        )
    return VismaConfig(
        client_id=s.text("client_id", required=True) or "",
        client_secret=s.text("client_secret", required=True) or "",
        base_url=base_url,
        token_url=token_url,
        tenant=s.text("tenant", "") or "",
        voucher_text=text,
        from_date=from_date,
        prices=s.choice("prices", "net", ("net", "gross")),
        page_size=s.integer("page_size", 100, minimum=1),
        cost_center=cost_center,
    )


def visma_tokens(config: VismaConfig, token_file: Path) -> OAuthTokens:
    """The integration's tokens in ``token_file`` (seed it once with ``store_initial``)."""
    endpoint = TokenEndpoint(
        url=config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        grant="refresh_token",
        client_auth="form",
    )
    return OAuthTokens(token_file, "visma", config.tenant, endpoint)


def visma_error(body: Any) -> str | None:
    """Visma's own words: ``DeveloperErrorMessage`` (with its ``ErrorCode``)."""
    if isinstance(body, dict):
        message = body.get("DeveloperErrorMessage")
        if isinstance(message, str) and message:
            code = body.get("ErrorCode")
            return f"{message} (ErrorCode {code})" if code is not None else message
    return None


def z_reference(message: BusMessage, z_no: int) -> str:
    """Our stable reference of a Z report, carried at the end of its voucher text (at most
    1000 characters, Visma's VoucherText): the Z voucher tag of :mod:`gateway.sync.references`."""
    return voucher_tag(message, z_no)


def _kronor(ore: int) -> float:
    return float(Decimal(ore) / 100)


def _when(value: Any) -> datetime | None:
    """``ChangedUtc``: UTC, whether or not it says so."""
    parsed = iso_time(value)
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=UTC)


class VismaApi:
    """The API of one company: an :class:`ApiClient` and a limiter per endpoint, one token."""

    def __init__(
        self,
        config: VismaConfig,
        auth: Auth,
        *,
        per_minute: int = REQUESTS_PER_MINUTE,
        backoff: float = 1.0,
        max_tries: int = 6,
    ) -> None:
        self.config = config
        self.auth = auth
        self.per_minute = per_minute
        self.backoff = backoff
        self.max_tries = max_tries
        self._clients: dict[str, ApiClient] = {}

    def client(self, endpoint: str) -> ApiClient:
        client = self._clients.get(endpoint)
        if client is None:
            client = ApiClient(
                self.config.base_url,
                self.auth,
                SlidingWindowLimiter(self.per_minute, 60.0),
                error_message=visma_error,
                backoff=self.backoff,
                max_tries=self.max_tries,
            )
            self._clients[endpoint] = client
        return client

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self._clients.values())

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str | int] | None = None, json: Any = None
    ) -> Any:
        return await self.client(path.split("/")[0]).request(method, path, params=params, json=json)

    async def pages(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a ``{"Meta", "Data"}`` list, page by page."""
        page = 1
        while True:
            body = await self.request(
                "GET", path, params={**(params or {}), "$page": page, "$pagesize": self.config.page_size}
            )
            if not isinstance(body, dict) or not isinstance(body.get("Data"), list):
                raise AdapterError(f"Visma eEkonomi: GET {path} answered no list: {str(body)[:200]}")
            for item in body["Data"]:
                if isinstance(item, dict):
                    yield item
            meta = body.get("Meta") or {}
            if page >= int(meta.get("TotalNumberOfPages") or 1) or not body["Data"]:
                return
            page += 1

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()


def _failure(what: str, exc: Exception) -> AdapterError:
    return AdapterError(f"{what}: {exc}")


class VismaAdapter:
    """Z reports to vouchers in Visma eEkonomi; receipts need nothing from it."""

    name = "Visma eEkonomi"

    def __init__(
        self, config: VismaConfig, api: VismaApi, accounts: AccountsConfig, *, create_tries: int = 3
    ):
        self.config = config
        self.api = api
        self.accounts = accounts
        self.create_tries = create_tries
        self._cost_center: tuple[str, str] | None = None  # (row field, item id), once looked up

    def handles(self, kind: str) -> bool:
        return kind == "report.z"

    async def setup(self, db: aiosqlite.Connection) -> None:
        await db.executescript(VISMA_SCHEMA)

    def voucher(self, message: BusMessage, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(our reference, the voucher's JSON) of a Z report; :class:`BookingError` if it does not balance."""
        z = z_figures(payload)
        reference = z_reference(message, z.z_no)
        text = self.config.voucher_text.format(
            z_no=z.z_no, register=message.register, store=message.store, day=z.day.isoformat()
        )
        rows = [
            {
                "AccountNumber": int(t.account),
                "DebitAmount": _kronor(t.amount) if t.amount > 0 else 0.0,
                "CreditAmount": _kronor(-t.amount) if t.amount < 0 else 0.0,
                "TransactionText": t.text[:60],
            }
            for t in book_z(z, self.accounts)
        ]
        return reference, {
            "VoucherDate": z.day.isoformat(),
            "VoucherText": f"{text} {reference}",
            "Rows": rows,
        }

    async def cost_center(self) -> tuple[str, str] | None:
        """(the row field, the item's id) of ``[sync.visma].cost_center``; None when none is set.

        Raises :class:`AdapterError` when Visma has no active item of that short name, or has
        it in more than one cost centre (which one is meant cannot be told).
        """
        code = self.config.cost_center
        if code is None or self._cost_center is not None:
            return self._cost_center
        found: list[tuple[str, str, str]] = []  # (row field, item id, cost centre name)
        inactive = False
        async for centre in self.api.pages("costcenters"):
            number = centre.get("Number")
            for item in centre.get("Items") or ():
                if not isinstance(item, dict) or item.get("ShortName") != code:
                    continue
                if not (centre.get("IsActive", True) and item.get("IsActive", True)):
                    inactive = True
                elif isinstance(number, int) and 1 <= number <= 3 and item.get("Id"):
                    found.append(
                        (f"CostCenterItemId{number}", str(item["Id"]), str(centre.get("Name") or ""))
                    )
        if not found:
            why = "is inactive" if inactive else "is not among the company's cost centres (GET costcenters)"
            raise AdapterError(f"[sync.visma].cost_center: the cost centre item {code!r} {why}")
        if len(found) > 1:
            names = ", ".join(repr(name) for _, _, name in found)
            raise AdapterError(
                f"[sync.visma].cost_center: {code!r} is an item of more than one cost centre ({names}); "
                "give the item a short name of its own in Visma"
            )
        self._cost_center = found[0][:2]
        return self._cost_center

    async def find(self, day: str, reference: str) -> dict[str, Any] | None:
        """The voucher of ``day`` whose text ends with ``reference``, if Visma has one."""
        async for voucher in self.api.pages("vouchers", {"$filter": f"VoucherDate eq {day}"}):
            text = voucher.get("VoucherText")
            if isinstance(text, str) and text.rstrip().endswith(reference):
                return voucher
        return None

    async def process(self, db: aiosqlite.Connection, message: BusMessage) -> str | None:
        if message.kind != "report.z":
            return None
        where = f"{message.orgnr}/{message.store}/{message.register}"
        try:
            reference, body = self.voucher(message, message.payload)
        except (BookingError, ValueError) as exc:
            raise AdapterError(f"refused to book the voucher of {message.msg_id}: {exc}") from None
        z_no = int(message.payload["z_no"])
        day = body["VoucherDate"]
        if self.config.from_date is not None and date.fromisoformat(day) < self.config.from_date:
            return f"Z {z_no} of {where} ({day}) is before from_date {self.config.from_date}: not booked"
        async with db.execute(
            "SELECT voucher_number, msg_id FROM visma_vouchers "
            "WHERE orgnr = ? AND store = ? AND register = ? AND z_no = ?",
            (message.orgnr, message.store, message.register, z_no),
        ) as cursor:
            earlier = await cursor.fetchone()
        if earlier is not None:
            return f"Z {z_no} of {where} is already voucher {earlier[0]} (from {earlier[1]}); nothing booked"
        try:
            cost_center = await self.cost_center()
            if cost_center is not None:
                row_field, item_id = cost_center
                body = {**body, "Rows": [{**row, row_field: item_id} for row in body["Rows"]]}
            voucher, found = await self._book(day, reference, body)
        except (ApiError, ApiUnavailable, TokenError) as exc:
            if isinstance(exc, ApiError):
                self._cost_center = None  # perhaps the item is gone: the next pass looks it up again
            raise _failure(f"voucher of Z {z_no} of {where}", exc) from None
        number = str(voucher.get("NumberAndNumberSeries") or "")
        await db.execute(
            "INSERT INTO visma_vouchers (orgnr, store, register, z_no, msg_id, voucher_id, voucher_number, "
            "booked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message.orgnr, message.store, message.register, z_no, message.msg_id, str(voucher.get("Id")),
             number, now_text()),
        )  # fmt: skip
        if found:
            return f"Z {z_no} of {where} was already voucher {number} in Visma ({reference}); recorded"
        return f"booked Z {z_no} of {where}, {day}, as voucher {number}"

    async def _book(self, day: str, reference: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The voucher (created now, or found) and whether it was found already there."""
        existing = await self.find(day, reference)
        if existing is not None:
            return existing, True
        unclear = ""
        for _ in range(self.create_tries):
            try:
                created = await self.api.request("POST", "vouchers", json=body)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                existing = await self.find(day, reference)
                if existing is not None:
                    return existing, True
                continue  # not carried out: send it again
            if not isinstance(created, dict):
                raise AdapterError(f"POST vouchers answered no voucher: {str(created)[:200]}")
            return created, False
        raise AdapterError(f"{unclear}; {reference} is not in Visma yet, tried again next pass")


class VismaSource:
    """Articles, customers and stock from Visma eEkonomi (:class:`MasterDataSource`)."""

    name = "Visma eEkonomi"

    def __init__(self, config: VismaConfig, api: VismaApi) -> None:
        self.config = config
        self.api = api
        self._rates: dict[str, int] | None = None

    async def _vat_rates(self) -> dict[str, int]:
        """Article account coding id -> VAT rate in hundredths of a percent."""
        if self._rates is None:
            rates: dict[str, int] = {}
            async for coding in self.api.pages("articleaccountcodings"):
                percent = coding.get("VatRatePercent")
                if isinstance(percent, int | float) and coding.get("Id"):
                    rates[str(coding["Id"])] = int((Decimal(str(percent)) * 10000).to_integral_value())
            self._rates = rates
        return self._rates

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with failures_as("articles"):
            rates = await self._vat_rates()
            async for item in self.api.pages("articles", changed_since("ChangedUtc", since)):
                yield self._article(item, rates)

    def _article(self, item: dict[str, Any], rates: dict[str, int]) -> SourceArticle:
        gross = self.config.prices == "gross"
        barcodes: list[str] = []
        for code in item.get("Barcodes") or ():
            value = (
                code
                if isinstance(code, str)
                else next(
                    (
                        code.get(k)
                        for k in ("Barcode", "Code", "Value")
                        if isinstance(code, dict) and code.get(k)
                    ),
                    None,
                )
            )
            if isinstance(value, str) and value:
                barcodes.append(value)
        return SourceArticle(
            number=str(item.get("Number") or ""),
            name=str(item.get("Name") or ""),
            price=ore(item.get("GrossPrice" if gross else "NetPrice")),
            price_includes_vat=gross,
            vat_rate=rates.get(str(item.get("CodingId")), 2500),
            barcodes=tuple(barcodes),
            unit=str(item.get("UnitName") or item.get("UnitAbbreviation") or "st"),
            service=bool(item.get("IsService", False)),
            stock_goods=bool(item.get("IsStock", False)),
            active=bool(item.get("IsActive", True)),
            modified_at=_when(item.get("ChangedUtc")),
        )

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        with failures_as("customers"):
            async for item in self.api.pages("customers", changed_since("ChangedUtc", since)):
                yield self._customer(item)

    @staticmethod
    def _customer(item: dict[str, Any]) -> SourceCustomer:
        return SourceCustomer(
            number=str(item.get("CustomerNumber") or ""),
            name=str(item.get("Name") or ""),
            orgnr=item.get("CorporateIdentityNumber") or None,
            email=item.get("EmailAddress") or None,
            phone=item.get("Telephone") or item.get("MobilePhone") or None,
            address=postal_address(
                item, ("InvoiceAddress1", "InvoiceAddress2"), "InvoicePostalCode", "InvoiceCity"
            ),
            active=bool(item.get("IsActive", True)),
            modified_at=_when(item.get("ChangedUtc")),
        )

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        with failures_as("stock"):
            return await stock_levels(
                self.api.pages("articles"),
                numbers,
                number="Number",
                quantity="StockBalance",
                kept=lambda item: bool(item.get("IsStock")),
            )

    async def _one(self, path: str, field: str, value: str) -> dict[str, Any] | None:
        quoted = value.replace("'", "''")
        async for item in self.api.pages(path, {"$filter": f"{field} eq '{quoted}'"}):
            return item
        return None

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        """Each article's ``StockBalance`` replaced (a PUT of the whole article, as Visma wants it)."""
        for number, level in levels.items():
            with failures_as(f"set stock of article {number}"):
                article = await self._one("articles", "Number", number)
                if article is None:
                    raise AdapterError(f"set stock: Visma eEkonomi has no article {number}")
                await self.api.request(
                    "PUT", f"articles/{article['Id']}", json={**article, "StockBalance": float(level)}
                )

    async def save_customer(self, customer: SourceCustomer) -> str:
        body: dict[str, Any] = {
            "Name": customer.name,
            "IsPrivatePerson": not customer.orgnr,
            "IsActive": customer.active,
            **contact_fields(
                customer,
                orgnr="CorporateIdentityNumber",
                email="EmailAddress",
                phone="Telephone",
                address=("InvoiceAddress1", "InvoiceAddress2"),
            ),
        }
        with failures_as(f"save customer {customer.number or customer.name!r}"):
            if not customer.number:
                created = await self.api.request("POST", "customers", json=body)
                return str(created["CustomerNumber"])
            existing = await self._one("customers", "CustomerNumber", customer.number)
            if existing is None:
                raise AdapterError(f"save customer: Visma eEkonomi has no customer {customer.number}")
            await self.api.request("PUT", f"customers/{existing['Id']}", json={**existing, **body})
            return customer.number
