"""The fiscal core: the only path by which a receipt comes into existence, and its journal.

* the sale: ``pipeline`` (the path and :class:`~gateway.fiscal.pipeline.Pipeline`),
  ``registering`` (the control unit's side), ``printing`` (paper and the drawer),
  ``recovery`` (receipts in doubt at start), ``registered``, ``receipt_entries``,
  ``receipt_text``, ``events`` (the POS's other events), ``errors``;
* the journal: ``journal`` (entries, signatures, the chain), ``store`` (its SQLite file and
  transactions), ``bodies`` (each entry kind's typed body), ``index_check``,
  ``key_rotation``, ``series_gap``, ``start_checks``, ``storage``;
* ``reports/`` (X and Z) and ``export/`` (SKV XML and JSON lines).

Nothing is imported here.
"""
