"""The ERP sync module (its own process, ``tillgw sync``): inbox, processing, adapters.

It knows the bus message schemas (:mod:`gateway.messages.envelope`), not the till's internals.
See docs/sync.md for running it and docs/sie.md for the SIE files it writes.
"""
