"""The words the files of ``docs/bus/`` add to what the Structs say of themselves.

A Struct's docstring and its ``Meta(description=…)`` become its schema's description; these
are the words a stranger writing a consumer needs where a Struct has none (a field's meaning
is a code comment there, or a docstring speaks of this project's modules).
"""

from __future__ import annotations

__all__ = ["FIELD_WORDS", "STRUCT_WORDS", "UNITS"]

UNITS = (
    "Money is integer öre everywhere on the bus (1 krona = 100 öre; 125.00 kr is 12500), signed "
    "where it can be negative (a return). Quantities, which are not money, are decimal text "
    "('1', '0.347'). A VAT rate is a whole-percent text in VAT rows ('25') and hundredths of a "
    "percent in lines and articles (2500). Times are ISO 8601 local time with offset."
)

STRUCT_WORDS: dict[str, str] = {
    "EnvelopeWire": "The envelope every till message has; payload is the kind's data.",
    "ReceiptPayload": (
        "A receipt (tillgw.bus/2): the registered receipt, its figures and its sale, every amount in öre."
    ),
    "ReceiptPayloadV1": (
        "A receipt as tills wrote it before tillgw.bus/2 (tillgw.bus/1): figures in öre with the VAT as "
        "unlabelled [rate in hundredths, gross, vat] triples, and the sale as the POS posted it, with "
        "decimal-string money (see docs/api.md). Read it; never write it."
    ),
    "TotalsBody": (
        "A tillgw.bus/1 receipt's figures in öre, signed; vat holds [rate in hundredths, gross, vat]."
    ),
    "ReceiptTotalsBody": "A receipt's figures in öre, signed (a return's are negative).",
    "SaleBody": "The sale the POS posted, every amount in öre.",
    "SaleLineBody": "One line of the sale.",
    "SalePaymentBody": "One payment of the sale.",
    "VatBody_int_": "One VAT rate's row: gross (incl. VAT), the VAT in it and the net, in öre.",
    "ReportBody_int_": (
        "An X or Z report (report.x, report.z): every figure of SKVFS 2014:9, amounts in öre "
        "(docs/reports.md)."
    ),
    "DrawerOpenBody": "drawer.open: the drawer opened without a sale.",
    "CashierBody": "cashier.login and cashier.logout.",
    "PriceChangeBody": (
        "price.change as tills wrote it before tillgw.bus/2 (tillgw.bus/1): the prices as kronor text "
        "('32.00'), as the POS posted them. Read it; never write it."
    ),
    "PriceChangePayload": "price.change (tillgw.bus/2): a price changed at the till, the prices in öre.",
    "FloatChangeBody": (
        "float.change: float (växelkassa) put into the drawer (amount > 0) or taken out (< 0), in öre; "
        "cashier and note are left out when not given."
    ),
    "CustomerChangeBody": "customer.change: a customer made or changed at the till, for the ERP.",
    "OrderNewBody": "order.new: a sales order made at the till, with the till's reference O-{register}-{n}.",
    "OrderLineBody": "One line of a new order: the ERP prices it.",
    "ReceiptType": (
        "The receipt as registered with the control unit: normal, kopia (copy), ovning (training), profo."
    ),
    "ReceiptKind": "What the POS asked for: normal, ovning (training), profo (pro forma).",
}

FIELD_WORDS: dict[tuple[str, str], str] = {
    ("ReceiptPayload", "receipt_no"): "the receipt's number in the register's series",
    ("ReceiptPayload", "at"): "when it was sold: ISO 8601 local time with offset",
    ("ReceiptPayload", "copy_of"): "a copy: the journal entry of the original's receipt; else null",
    ("ReceiptPayload", "control_code"): "the control unit's code, as printed on the receipt",
    ("ReceiptPayload", "unit_id"): "the control unit's identity (manufacturing number)",
    ("ReceiptPayload", "cashier"): "the cashier, when the POS named one",
    ("ReceiptTotalsBody", "vat"): "one labelled row per rate used, highest rate first",
    ("ReceiptTotalsBody", "paid"): "öre per means of payment, change deducted",
    ("ReceiptTotalsBody", "items"): "goods sold: a count, not money",
    ("ReceiptTotalsBody", "services"): "services sold: a count, not money",
    ("TotalsBody", "vat"): "[rate in hundredths of a percent, gross öre, VAT öre] per rate used",
    ("SaleBody", "cashier"): "the cashier, when the POS named one",
    ("SaleBody", "customer"): "the customer number of a sale on account (the ERP invoices it)",
    ("SaleBody", "order"): "the ERP's sales order this receipt pays",
    ("SaleLineBody", "unit_price"): "öre incl. VAT for one unit",
    ("SaleLineBody", "discount"): "öre off this line (positive; on a return line it lowers the refund)",
    ("SaleLineBody", "article"): "the article number, when the POS gave one",
    ("SaleLineBody", "group"): "the main group (huvudgrupp), for the Z report",
    ("SalePaymentBody", "amount"): "öre; for cash, what the customer handed over (the change is in totals)",
    ("SalePaymentBody", "reference"): "card approval code, gift-card number, Swish id",
    ("VatBody_int_", "rate"): "the rate in whole percent as text: '25', '12', '6', '0'",
    ("ReportBody_int_", "z_no"): "the Z report's number (null on an X report)",
    ("ReportBody_int_", "net_sales"): "sales less returns, öre incl. VAT",
    ("ReportBody_int_", "vat"): "one labelled row per rate, all four rates",
    ("ReportBody_int_", "payments"): "öre per means of payment",
    ("PriceChangeBody", "old_price"): "kronor as text, '32.00' (tillgw.bus/1 only)",
    ("PriceChangeBody", "new_price"): "kronor as text, '32.00' (tillgw.bus/1 only)",
    ("PriceChangePayload", "old_price"): "öre incl. VAT for one unit; null when the POS did not say",
    ("PriceChangePayload", "article"): "the article number",
    ("FloatChangeBody", "amount"): "öre: > 0 put in, < 0 taken out",
    ("OrderLineBody", "quantity"): "decimal text, more than zero",
    ("OrderNewBody", "reference"): "the till's O-{register}-{n}: the ERP's order carries it (made once)",
}
