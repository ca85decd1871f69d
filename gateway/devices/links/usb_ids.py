"""USB vendor and product ids of the devices found at a till: what ``tillgw diag`` calls them.

Every id and name below is as the USB ID repository lists it (usb.ids, linux-usb.org,
the copy Debian ships in hwdata 0.368); the kind ("receipt printer", "barcode scanner",
…) is what the vendor or product line is at a till. A vendor known here with an unknown
product is named by its vendor and kind alone.

No USB id of a CleanCash control unit could be sourced: a unit on USB shows as its
serial adapter (one of the adapters below), and ``tillgw diag`` tells it by asking it
in CCSP, not by its id.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KnownDevice", "describe", "lookup"]

RECEIPT_PRINTER = "receipt printer"
LABEL_PRINTER = "label printer"
SCANNER = "barcode scanner"
SERIAL_ADAPTER = "USB serial adapter (a control unit, printer or scanner may be behind it)"

# vendor id: (usb.ids vendor name, the kind it makes for a till)
VENDORS: dict[int, tuple[str, str]] = {
    0x04B8: ("Seiko Epson Corp.", RECEIPT_PRINTER),
    0x0519: ("Star Micronics Co., Ltd", RECEIPT_PRINTER),
    0x1504: ("Bixolon CO LTD", RECEIPT_PRINTER),
    0x1D90: ("Citizen", RECEIPT_PRINTER),
    0x2730: ("Citizen", RECEIPT_PRINTER),
    0x0A5F: ("Zebra Technologies", LABEL_PRINTER),
    0x05E0: ("Symbol Technologies (Zebra)", SCANNER),
    0x0C2E: ("Metrologic Instruments (Honeywell)", SCANNER),
    0x0536: ("Hand Held Products (Honeywell)", SCANNER),
    0x05F9: ("PSC Scanning, Inc. (Datalogic)", SCANNER),
    0x080C: ("Datalogic S.p.A.", SCANNER),
    0x1EAB: ("Fujian Newland Computer Co., Ltd", SCANNER),
    0x0403: ("Future Technology Devices International, Ltd (FTDI)", SERIAL_ADAPTER),
    0x067B: ("Prolific Technology, Inc.", SERIAL_ADAPTER),
    0x1A86: ("QinHeng Electronics", SERIAL_ADAPTER),
    0x10C4: ("Silicon Labs", SERIAL_ADAPTER),
}

# (vendor id, product id): usb.ids product name
PRODUCTS: dict[tuple[int, int], str] = {
    (0x04B8, 0x0202): "Interface Card UB-U05 for Thermal Receipt Printers [M129C/TM-T70/TM-T88IV]",
    (0x0519, 0x0003): "TSP100ECO/TSP100II",
    (0x1504, 0x001F): "SRP-350II Thermal Receipt Printer",
    (0x1D90, 0x20F0): "Thermal Receipt Printer [CT-E351]",
    (0x2730, 0x0FFF): "CT-S2000/4000/310/CLP-521/621/631/CL-S700 Series",
    (0x0A5F, 0x0062): "GK420d Label Printer",
    (0x05E0, 0x1200): "Bar Code Scanner",
    (0x05E0, 0x1701): "Bar Code Scanner (CDC)",
    (0x0C2E, 0x0200): "MS7120 Barcode Scanner",
    (0x0C2E, 0x0204): "Metrologic MS7120 Barcode Scanner (keyboard mode)",
    (0x0536, 0x01CA): "IT4800 Area Imager",
    (0x05F9, 0x2206): "Gryphon series (keyboard emulation mode)",
    (0x05F9, 0x220C): "Datalogic Gryphon GD4430",
    (0x080C, 0x0300): "Gryphon D120 Barcode Scanner",
    (0x1EAB, 0x0103): "HR200 Barcode scanner engine (HID keyboard)",
    (0x1EAB, 0x0106): "HR200 Barcode scanner engine (Serial CDC)",
    (0x1EAB, 0x0C03): "HR100/HR3260 cordless/HR3290 cordless/BS80 Barcode scanner engine (HID keyboard)",
    (0x1EAB, 0x0C06): "HR100/HR3260 cordless/HR3290 cordless/BS80 Barcode scanner engine (USB Serial CDC)",
    (0x0403, 0x6001): "FT232 Serial (UART) IC",
    (0x0403, 0x6010): "FT2232C/D/H Dual UART/FIFO IC",
    (0x067B, 0x2303): "PL2303 Serial Port / Mobile Phone Data Cable",
    (0x1A86, 0x7523): "CH340 serial converter",
    (0x1A86, 0x5523): "CH341 in serial mode, usb to serial port converter",
    (0x10C4, 0xEA60): "CP210x UART Bridge",
}


@dataclass(frozen=True, slots=True)
class KnownDevice:
    vendor: str
    kind: str
    product: str | None  # None: the vendor is known, the product is not


def lookup(vendor_id: int, product_id: int) -> KnownDevice | None:
    """What a device with these ids is at a till, or None for a vendor not in the table."""
    known = VENDORS.get(vendor_id)
    if known is None:
        return None
    return KnownDevice(known[0], known[1], PRODUCTS.get((vendor_id, product_id)))


def describe(vendor_id: int, product_id: int) -> str:
    """``"04b8:0202 Seiko Epson Corp. …: receipt printer"``, or the ids and "not a known till device"."""
    ids = f"{vendor_id:04x}:{product_id:04x}"
    known = lookup(vendor_id, product_id)
    if known is None:
        return f"{ids} not a known till device"
    name = known.vendor if known.product is None else f"{known.vendor} {known.product}"
    return f"{ids} {name}: {known.kind}"
