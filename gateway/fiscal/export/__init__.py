"""The journal exported: ``skv`` writes Skatteverket's XML (SKVFS 2021:16), streamed, with
``skv_journal`` (what it reads of the journal), ``skv_events`` (each event's element),
``skv_register`` (the company and register) and ``skv_xml`` (the writer and the value
formats); ``jsonl`` writes every entry as a JSON line; ``period`` is what both share (a
period of whole days, where its entries lie, a file written whole)."""
