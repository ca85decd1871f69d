"""Setting a till up on a shop's computer: ``tillgw init`` (the commented ``till.toml``,
the devices found by the diagnostics' probes) and ``tillgw service`` (the systemd units,
the till's system user, the data directory's owner and modes). docs/operations.md tells
a technician how to use them.
"""
