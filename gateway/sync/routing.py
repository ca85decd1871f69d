"""Which tills a sync module serves: ``[sync] stores`` and ``registers``, as topic filters.

A sync module set up for one store must never take another store's messages: it
subscribes only to the topics its configuration names, and a message of a store it does
not serve is never stored or acked by it (the till keeps it for the sync module that
serves it). The scopes::

    stores = ["5560360793/vaxjo"]        every register of that store
    stores = ["5560360793/*"]            every store of that organisation number
    stores = ["*"]                       every store on the broker (a central module)
    registers = ["5560360793/vaxjo/KASSA-1"]   that register; its store's other registers
                                                are *held* (a till added before the
                                                configuration knows it)

``registers`` alone subscribes to each listed register's whole store, so that a till
added to the store later is seen — held, with what to do — instead of waiting unseen.
Neither key: the store of the file's own ``[shop]`` (a till's file); a file with neither
and no ``[shop]`` serves nothing, and ``tillgw sync`` refuses to run with it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVERY_STORE", "Routing"]

EVERY_STORE = "*"


@dataclass(frozen=True, slots=True)
class Routing:
    stores: frozenset[str]  # "orgnr/store", "orgnr/*" or "*"
    registers: frozenset[str]  # "orgnr/store/register"

    @property
    def empty(self) -> bool:
        return not self.stores and not self.registers

    def _store_listed(self, orgnr: str, store: str) -> bool:
        return bool({EVERY_STORE, f"{orgnr}/*", f"{orgnr}/{store}"} & self.stores)

    def serves(self, orgnr: str, store: str) -> bool:
        """A store this module subscribes to: its messages are taken or held, never ignored."""
        return self._store_listed(orgnr, store) or any(
            r.startswith(f"{orgnr}/{store}/") for r in self.registers
        )

    def accepts(self, orgnr: str, store: str, register: str) -> bool:
        """A register whose messages are stored and booked (the others of a served store are held)."""
        return self._store_listed(orgnr, store) or f"{orgnr}/{store}/{register}" in self.registers

    def scopes(self) -> list[str]:
        """The topic prefixes below ``tillgw/`` this module subscribes to, none inside another."""
        if EVERY_STORE in self.stores:
            return ["+/+"]
        orgnrs = {s[:-2] for s in self.stores if s.endswith("/*")}
        stores = {s for s in self.stores if not s.endswith("/*")}
        stores |= {r.rsplit("/", 1)[0] for r in self.registers}
        out = [f"{o}/+" for o in sorted(orgnrs)]
        out += sorted(s for s in stores if s.split("/", 1)[0] not in orgnrs)
        return out

    def filters(self, leaves: tuple[str, ...]) -> list[str]:
        """``tillgw/<scope>/+/<leaf>`` for every scope and leaf."""
        return [f"tillgw/{scope}/+/{leaf}" for scope in self.scopes() for leaf in leaves]

    def named_stores(self) -> set[tuple[str, str]]:
        """The stores named one by one (not by a wildcard), as ``(orgnr, store)``."""
        named = {tuple(s.split("/")) for s in self.stores if s != EVERY_STORE and not s.endswith("/*")}
        named |= {tuple(r.split("/")[:2]) for r in self.registers}
        return {(o, s) for o, s in named}

    def describe(self) -> str:
        return ", ".join(sorted(self.stores) + sorted(self.registers)) or "nothing"

    def why_not(self, orgnr: str, store: str, register: str, source: str) -> str:
        """Why a register of a served store is held, and what to do, in a shop owner's words."""
        key = f"{orgnr}/{store}/{register}"
        return (
            f"register {key} is not in [sync].registers of {source} — if it is a till of this store, "
            f'add "{key}" to [sync].registers (or "{orgnr}/{store}" to [sync].stores), restart '
            f"tillgw sync and run: tillgw sync --reprocess --register {register}"
        )
