"""Is the register registered with Skatteverket, does it still match what was registered,
and does its model designation carry the "SE" every register's must?"""

from __future__ import annotations

import sqlite3

from gateway.common.i18n import tr
from gateway.config import Config
from gateway.fiscal.journal import open_readonly
from gateway.registration.check import CHANGED_KIND, assess, current_identity, first_seen_in
from gateway.registration.items import MODEL_MARK, RegistrationError, lacks_model_mark, model_mark_advice
from gateway.registration.record import Registration, load_registration
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict

__all__ = ["check_registration"]


def _model_words(config: Config, registration: Registration | None) -> tuple[str, str] | None:
    """(what is wrong, what to do) when the model designation lacks "SE", in the config or as
    registered; None when it does not."""
    if lacks_model_mark(config.model):
        return model_mark_advice(config.model)
    if registration is not None and lacks_model_mark(registration.register.model):
        return (
            f'registered with the model designation {registration.register.model!r}, without "{MODEL_MARK}"; '
            f"the till is now {config.model!r}",
            "report the new model designation in Skatteverket's e-service (ändra), then run tillgw register",
        )
    return None


def check_registration(config: Config, unit_id: str | None) -> Check:
    """``unit_id``: what the control unit answered in this run (None when it was not asked or was silent)."""
    try:
        registration = load_registration(config.data_dir)
    except RegistrationError as exc:
        return Check("registration", Verdict.PROBLEM, exc.reason, {}, tr("run tillgw register again"))
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
    model = _model_words(config, registration)
    if model is not None:
        details["model"] = {"configured": config.model, "problem": model[0]}
        if registration is not None:
            details["model"]["registered"] = registration.register.model
    summary = state.words if model is None else f"{state.words}; {model[0]}"
    if state.registered is None and state.problem is None:
        return Check("registration", Verdict.PROBLEM, summary, details, tr("run tillgw register"))
    if not state.ok:
        return Check(
            "registration",
            Verdict.PROBLEM,
            summary,
            details,
            tr(
                "report the change in Skatteverket's e-service by {report_by}, then run tillgw register"
            ).format(report_by=state.report_by),
        )
    if model is not None:
        return Check("registration", Verdict.WARNING, summary, details, model[1])
    return Check("registration", Verdict.OK, state.words, details)
