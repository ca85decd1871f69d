"""The barcode scanner on the event stream: every scan a ``scan`` event carrying the
till's article for the code, every line that did not make a code a ``scan.rejected``
event — docs/api.md.

The scanner's driver describes each event in its own JSON (``ScanEvent.to_json``,
``ScanRejected.to_json``); this module adds what only the till knows, the article in its
catalog, in the shape ``GET /v1/articles?barcode=`` answers. A code whose check digit is
wrong is a misread, never looked up: the POS must not sell what a misread happens to
name. An in-store price or weight code is looked up by its article key (the code with
the price or weight zeroed, as GS1 Sweden has the item register store it), then by that
key as a GTIN-14.
"""

from __future__ import annotations

from typing import Any

from gateway.api.events import EventHub
from gateway.catalog.rows import CatalogArticle
from gateway.catalog.store import Catalog

__all__ = ["publish_scanner_event", "scanned_article"]


def scanned_article(catalog: Catalog, scan: dict[str, Any]) -> CatalogArticle | None:
    """The article ``scan`` (a scan event's JSON) names in ``catalog``, or None."""
    if scan["valid"] is False:
        return None
    in_store = scan["in_store"]
    if in_store is None:
        return catalog.article_by_barcode(scan["code"])
    return catalog.article_by_barcode(in_store["article_key"]) or catalog.article_by_barcode(
        in_store["article_gtin14"]
    )


def publish_scanner_event(hub: EventHub, catalog: Catalog, event: dict[str, Any]) -> None:
    """Put one scanner event (its driver's JSON) on the stream as ``scan`` or ``scan.rejected``."""
    if not hub.clients:  # no catalog lookup when nobody listens
        return
    if event["type"] == "scan":
        article = scanned_article(catalog, event)
        hub.publish(
            "scan",
            {
                "code": event["code"],
                "kind": event["kind"],
                "valid": event["valid"],
                "in_store": event["in_store"],
                "article": None if article is None else article.to_json(),
                "source": event["source"],
            },
        )
    else:
        hub.publish(
            "scan.rejected", {"reason": event["reason"], "head": event["head"], "source": event["source"]}
        )
