"""Is the register registered with Skatteverket, and does it still match what was registered?"""

from __future__ import annotations

import sqlite3

from gateway.config import Config
from gateway.fiscal.journal import open_readonly
from gateway.registration.check import CHANGED_KIND, assess, current_identity, first_seen_in
from gateway.registration.record import RegistrationError, load_registration
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict

__all__ = ["check_registration"]


def check_registration(config: Config, unit_id: str | None) -> Check:
    """``unit_id``: what the control unit answered in this run (None when it was not asked or was silent)."""
    try:
        registration = load_registration(config.data_dir)
    except RegistrationError as exc:
        return Check("registration", Verdict.PROBLEM, exc.reason, {}, "run tillgw register again")
    state = assess(registration, current_identity(config, unit_id))
    if state.changed:
        database = TillFiles(config.data_dir).database
        try:
            with open_readonly(database) as conn:
                rows = conn.execute(
                    "SELECT at, body FROM journal WHERE kind = ? ORDER BY seq", (CHANGED_KIND,)
                ).fetchall()
            state.first_seen = first_seen_in(((str(a), str(b)) for a, b in rows), state) or state.first_seen
        except (sqlite3.Error, OSError):
            pass  # no journal to date it by: the change counts from today
    details = state.to_json()
    if state.registered is None and state.problem is None:
        return Check("registration", Verdict.PROBLEM, state.message, details, "run tillgw register")
    if not state.ok:
        return Check(
            "registration",
            Verdict.PROBLEM,
            state.message,
            details,
            f"report the change in Skatteverket's e-service by {state.report_by}, then run tillgw register",
        )
    return Check("registration", Verdict.OK, state.message, details)
