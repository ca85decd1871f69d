"""Backups of a till's data directory, taken while it sells, and their restore (``tillgw backup``,
``tillgw restore``; docs/operations.md)."""
