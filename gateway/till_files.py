"""Where a till keeps its things under its data directory: the names, and nothing that opens them.

Every command that touches a till's data (``tillgw run``, ``report``, ``journal``,
``register``, ``diag``) finds its files here, so reading a path costs no import of the
till's service (:mod:`gateway.till`), its devices or its bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TillFiles"]


@dataclass(frozen=True, slots=True)
class TillFiles:
    """Where a till keeps its things, under its data directory."""

    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "till.db"

    @property
    def catalog(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def signing_key(self) -> Path:
        return self.data_dir / "signing-key.pem"

    @property
    def api_token(self) -> Path:
        return self.data_dir / "api-token"

    @property
    def lock(self) -> Path:
        return self.data_dir / "till.lock"

    @property
    def series(self) -> Path:
        """The series' last receipt number, kept beside the database (gateway/fiscal/start_checks.py)."""
        return self.data_dir / "series.json"

    @property
    def demo_unit(self) -> Path:
        """The demo's simulated control unit's memory (gateway/demo.py)."""
        return self.data_dir / "sim" / "control-unit"

    @property
    def demo_printer(self) -> Path:
        """Where the demo's simulated printer puts what it prints (gateway/demo.py)."""
        return self.data_dir / "printer"

    @property
    def demo_sync(self) -> Path:
        """The demo's ERP sync module's files: its inbox (and the key beside it), SIE files, logs."""
        return self.data_dir / "sync"
