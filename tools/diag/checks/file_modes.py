"""Are the till's files its owner's alone? The data directory 0700; every database, its
WAL and shared-memory files, the signing key and the API token 0600.

The databases hold customers' names, e-mails and phone numbers, the key signs the
journal and the token opens the API: none is for another user of the machine. The till
corrects the modes at every start (and logs it); this check says what it would find.
"""

from __future__ import annotations

import stat

from gateway.common.i18n import tr
from gateway.fiscal.start_checks import DIR_MODE, FILE_MODE, private_files
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict

__all__ = ["check_file_modes"]


def check_file_modes(files: TillFiles) -> Check:
    data_dir = files.data_dir
    if not data_dir.exists():
        return Check(
            "file modes",
            Verdict.OK,
            tr("no data directory at {data_dir} yet").format(data_dir=data_dir),
            {"data_dir": str(data_dir)},
        )
    wrong: dict[str, str] = {}
    for path, mode in [(data_dir, DIR_MODE), *((p, FILE_MODE) for p in private_files(data_dir))]:
        current = stat.S_IMODE(path.stat().st_mode)
        if current != mode:
            wrong[str(path)] = f"{current:04o}, should be {mode:04o}"
    if not wrong:
        return Check(
            "file modes",
            Verdict.OK,
            tr("{data_dir} and its databases and keys are readable by their owner only").format(
                data_dir=data_dir
            ),
            {"data_dir": str(data_dir)},
        )
    first = next(iter(wrong))
    fixes = "; ".join(f"chmod {wrong[p][-4:]} {p}" for p in wrong)
    return Check(
        "file modes",
        Verdict.PROBLEM,
        f"{first} is {wrong[first]}"
        + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
        + ": other users of this machine can read it",
        {"data_dir": str(data_dir), "wrong": wrong},
        tr("{fixes} — or restart the till, which corrects them").format(fixes=fixes),
    )
