"""Cut the operations tillgw uses out of Fortnox's OpenAPI 3.0.3 definition.

Run as ``python tests/sync/contracts/fortnox/extract.py FULL.json > openapi-extract.json``
with the full definition (README.md says where it comes from). The extract keeps each
used operation as published and every schema those operations reach, unchanged, so
the checker and the fake read Fortnox's own words and nothing else.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# (path, method) of every operation the adapter, its order module, its master-data
# source, the diag check or the fake's own set-up uses.
USED: tuple[tuple[str, str], ...] = (
    ("/3/companyinformation", "get"),
    ("/3/financialyears", "get"),
    ("/3/costcenters", "get"),
    ("/3/vouchers", "post"),
    ("/3/vouchers/sublist/{VoucherSeries}", "get"),
    ("/3/invoices", "get"),
    ("/3/invoices", "post"),
    ("/3/invoices/{DocumentNumber}", "get"),
    ("/3/invoices/{DocumentNumber}/bookkeep", "put"),
    ("/3/invoicepayments", "get"),
    ("/3/invoicepayments", "post"),
    ("/3/invoicepayments/{Number}", "get"),
    ("/3/invoicepayments/{Number}/bookkeep", "put"),
    ("/3/orders", "get"),
    ("/3/orders", "post"),
    ("/3/orders/{DocumentNumber}", "get"),
    ("/3/orders/{DocumentNumber}", "put"),
    ("/3/orders/{DocumentNumber}/createinvoice", "put"),
    ("/3/articles", "get"),
    ("/3/articles/{ArticleNumber}", "get"),
    ("/3/articles/{ArticleNumber}", "put"),
    ("/3/prices/sublist/{PriceList}/{ArticleNumber}", "get"),
    ("/3/customers", "get"),
    ("/3/customers", "post"),
    ("/3/customers/{CustomerNumber}", "get"),
    ("/3/customers/{CustomerNumber}", "put"),
)


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def extract(full: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method in USED:
        paths.setdefault(path, {})[method] = full["paths"][path][method]
    schemas = full["components"]["schemas"]
    wanted: set[str] = set()
    _refs(paths, wanted)
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        _refs(schemas[name], wanted)
    return {
        "openapi": full["openapi"],
        "info": full["info"],
        "servers": full.get("servers", []),
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(done)}},
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        json.dump(extract(json.load(f)), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
        sys.stdout.write("\n")
