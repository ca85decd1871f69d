"""Ask the till's control unit who it is, for the registration sheet.

The unit answers its manufacturing number (its unit id) and firmware in both protocols;
an XCCSP unit names its model too (``Type``), a CCSP unit does not. Neither names its
maker. In the demo (no config) the project's simulated unit is started on a
pseudo-terminal from the demo's own data (:mod:`gateway.demo`), so it answers with the
demo till's unit id.

The drivers and the simulator are loaded when a unit is read, not when ``tillgw register
--help`` (or ``--no-device``) imports this module.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from gateway import demo
from gateway.config import Config
from gateway.till_files import TillFiles

__all__ = ["CLEANCASH_MAKER", "UnitAnswer", "UnitUnreadable", "read_unit"]

# Units speaking CCSP or XCCSP are CleanCash units; XCCSP's namespace is
# http://www.retailinnovation.se/xccsp (shared/reference/control-units.md). A default only:
# the person registering confirms it against the unit's type plate.
CLEANCASH_MAKER = "Retail Innovation (CleanCash)"


class UnitUnreadable(Exception):
    """The unit did not say who it is; ``str()`` says why and what to check."""


@dataclass(frozen=True, slots=True)
class UnitAnswer:
    url: str
    unit_id: str
    firmware: str
    protocol: str  # "CCSP v2", "XCCSP v1"
    model: str | None  # None: the protocol does not tell it


async def read_unit(config: Config, url: str | None = None) -> UnitAnswer:
    """The identity of the unit at ``url`` (default the config's; the demo's simulator in the demo)."""
    from gateway.devices.control_units.interface import ControlUnitError
    from gateway.devices.control_units.kinds import open_unit

    async with contextlib.AsyncExitStack() as stack:
        address = url or config.control_unit.url
        if address is None:
            address = await stack.enter_async_context(demo.simulated_control_unit(TillFiles(config.data_dir)))
        driver = open_unit(
            config.control_unit,
            config.pos_id,
            orgnr=config.shop.orgnr,
            address=", ".join(config.shop.address),
            url=address,
        )
        try:
            identity = await driver.start()
        except ControlUnitError:
            raise UnitUnreadable(
                f"the control unit at {address} did not say who it is: {driver.reason}"
            ) from None
        finally:
            await driver.close()
        model = getattr(driver, "unit_type", None)  # XCCSP's IdentityResponse names it
        return UnitAnswer(
            url or config.control_unit.url or "demo",
            identity.unit_id,
            identity.firmware,
            identity.protocol_name,
            model or None,
        )
