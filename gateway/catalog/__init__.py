"""The till's catalog: the store's master data from the sync module, kept for the POS.

* :mod:`gateway.catalog.store` — ``<data_dir>/catalog.db``: articles, barcodes,
  customers, stock and the revision held; revisions applied whole, lookups in microseconds
  (its tables and connections in :mod:`gateway.catalog.database`, its rows in
  :mod:`gateway.catalog.rows`);
* :mod:`gateway.catalog.subscriber` — the MQTT client that brings the revisions and asks
  for what is missing;
* :mod:`gateway.catalog.customers` — a customer the POS creates or changes, checked.

The catalog is not fiscal: it lives in its own database, apart from the journal, so that
applying 100,000 articles never holds up a sale, and it can be deleted and fetched again.
"""
