"""Whose SKV export it is: the company and the register, from the configuration.

The schema requires each of them; :meth:`Register.check` refuses an export that lacks one
before any file is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from gateway.config import Config
from gateway.fiscal.export.period import ExportRefused

__all__ = ["DISTRIBUTION", "Register", "package_version", "register_from_config"]

DISTRIBUTION = "tillgateway"  # the installed package (pyproject's name; the command is tillgw)


@dataclass(frozen=True, slots=True)
class Register:
    """The company and register an export is made for (from the configuration)."""

    company: str
    orgnr: str
    address: str  # the place of sale on one line
    pos_id: str  # kassabeteckning
    manufacturing_number: str  # the register's tillverkningsnummer
    model: str
    program: str
    version: str

    def check(self) -> None:
        """Refuse an export that would lack what the schema requires of the company or register."""
        missing = [
            what
            for what, value in (
                ("the organisation number ([shop].orgnr)", self.orgnr),
                ("the company name ([shop].name)", self.company),
                ("the address of the place of sale ([shop].address)", self.address),
                ("the register's designation ([register].pos_id)", self.pos_id),
                (
                    "the register's manufacturing number ([register].manufacturing_number)",
                    self.manufacturing_number,
                ),
                ("the register's model ([register].model)", self.model),
                ("the register's program ([register].program)", self.program),
                ("the program's version", self.version),
            )
            if not value.strip()
        ]
        if missing:
            raise ExportRefused(f"cannot export: {'; '.join(missing)} is missing")


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return ""  # Register.check refuses the export and says so


def register_from_config(config: Config) -> Register:
    return Register(
        company=config.shop.name,
        orgnr=config.shop.orgnr,
        address=", ".join(line.strip() for line in config.shop.address if line.strip()),
        pos_id=config.pos_id,
        manufacturing_number=config.manufacturing_number or "",
        model=config.model,
        program=config.program,
        version=package_version(),
    )
