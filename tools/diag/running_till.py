"""The till that may be running on this data directory: asked first, so that ``tillgw diag``
never opens a port the till holds.

A running till owns its control unit's, printer's and scanner's ports (one task owns one
port). A probe that opened them would find them taken, or steal the till's answers, and
say "check the cable" about a device that works. So diag first asks the till itself —
``GET /v1/status`` on its local API, at ``[api] listen`` with the token in the data
directory's ``api-token`` (docs/api.md) — and reports the devices as the till sees them.

Whether a till runs is also told by the kernel, without touching the till: it holds an
``flock`` on ``till.lock`` while it runs (:class:`gateway.fiscal.start_checks.DataDirLock`),
which ``/proc/locks`` lists with the holder's PID. A till that holds the lock but does not
answer on its API is a problem of its own, and its ports are still left alone; when no
till holds it, diag asks no API (another till may listen on the same address) and probes
the devices itself.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gateway.common.i18n import tr
from gateway.config import Config
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict
from tools.diag.finding import Finding, next_step_of

__all__ = ["API_TIMEOUT", "PROC_LOCKS", "RunningTill", "ask_running_till", "lock_holder", "reported_findings"]

PROC_LOCKS = Path("/proc/locks")

API_TIMEOUT = 3.0  # the till answers its status from memory: a few milliseconds when it is well

# The devices GET /v1/status names, as diag names them.
DEVICES = {"control_unit": "control unit", "printer": "printer", "scanner": "scanner"}
# What the status tells of a control unit beyond its state (docs/api.md), as diag's table names it.
UNIT_DETAILS = ("unit_id", "protocol", "firmware", "line", "status_detail")


@dataclass(slots=True)
class RunningTill:
    """A till found running on the config's data directory."""

    api: str  # the API's base URL
    pid: int | None  # the lock holder, when the kernel says
    status: dict[str, Any] | None  # GET /v1/status; None when it did not answer as it should
    problem: str | None = None  # why not: "<what> — <what to do>"

    def check(self) -> Check:
        """The till itself as one of diag's checks."""
        who = tr("the till (PID {pid})").format(pid=self.pid) if self.pid is not None else tr("the till")
        if self.status is not None:
            return Check(
                "running till",
                Verdict.OK,
                tr(
                    "{who} answers at {api}: its devices are as it reports them; their ports were left to it"
                ).format(who=who, api=self.api),
                {"api": self.api, "pid": self.pid},
            )
        problem = self.problem or tr("{who} does not answer at {api}").format(who=who, api=self.api)
        summary, _, _ = problem.partition(" — ")
        return Check(
            "running till",
            Verdict.PROBLEM,
            summary,
            {"api": self.api, "pid": self.pid},
            next_step_of(problem),
        )


def lock_holder(lock: Path, locks: Path = PROC_LOCKS) -> int | None:
    """The PID of the process holding an ``flock`` on ``lock``, read from the kernel's list
    of locks (no lock is taken, so a till starting at this moment is never refused)."""
    try:
        found = lock.stat()
        listed = locks.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    wanted = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    for line in listed.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4711 fe:00:2151048 0 EOF" (a "->" marks a waiter)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[2] != "->" and fields[5] == wanted:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None


def _no_till_holds(files: TillFiles) -> bool:
    """Whether no till runs on the data directory: none ever ran there, or the kernel's list
    of locks shows none holding it. Whatever answers at ``[api] listen`` then is not this data
    directory's till (another may listen on the same address)."""
    return not files.lock.exists() or PROC_LOCKS.exists()


def _token(files: TillFiles) -> str | None:
    try:
        return files.api_token.read_text(encoding="utf-8").strip()
    except OSError:
        return None


async def ask_running_till(config: Config, answer_within: float = API_TIMEOUT) -> RunningTill | None:
    """The till running on ``config``'s data directory and what it says of its devices; None
    when none runs there (nothing holds the lock and nothing answers at ``[api] listen``)."""
    files = TillFiles(config.data_dir)
    pid = lock_holder(files.lock)
    if pid is None and _no_till_holds(files):
        return None
    api = config.api.local_url
    token = _token(files)
    if token is None:
        if pid is None:
            return None  # never started here: no token was ever made
        return RunningTill(
            api,
            pid,
            None,
            tr(
                "a till (PID {pid}) runs on {data_dir} but its token {api_token} "
                "cannot be read — run tillgw diag as the user the till runs as "
                "(or with sudo -u)"
            ).format(pid=pid, data_dir=config.data_dir, api_token=files.api_token),
        )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=answer_within)) as session,
            session.get(f"{api}/v1/status", headers={"Authorization": f"Bearer {token}"}) as answer,
        ):
            if answer.status == 401:
                return RunningTill(
                    api,
                    pid,
                    None,
                    tr(
                        "the till at {api} refused the token of {api_token} — another "
                        "till listens there: give tillgw diag that till's --config (or "
                        "--data-dir)"
                    ).format(api=api, api_token=files.api_token),
                )
            if answer.status != 200:
                return RunningTill(
                    api,
                    pid,
                    None,
                    tr(
                        "the till at {api} answered its status with HTTP {status} — see "
                        "its log ({log_file}) and restart it if it stays so"
                    ).format(api=api, status=answer.status, log_file=config.log_file),
                )
            status = await answer.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        if pid is None:
            return None  # nothing runs: the devices are free to probe
        why = (
            tr("no answer")
            if isinstance(exc, TimeoutError | asyncio.TimeoutError)
            else str(exc) or type(exc).__name__
        )
        return RunningTill(
            api,
            pid,
            None,
            tr(
                "a till (PID {pid}) runs on {data_dir} but its API at {api} does "
                "not answer ({why}) — check [api] listen in its config and its "
                "log ({log_file}); restart it if it hangs"
            ).format(pid=pid, data_dir=config.data_dir, api=api, why=why, log_file=config.log_file),
        )
    if not isinstance(status, dict) or not isinstance(status.get("devices"), dict):
        return RunningTill(
            api,
            pid,
            None,
            tr("the till at {api} answered no device status — update diag and the till together").format(
                api=api
            ),
        )
    return RunningTill(api, pid, status)


def reported_findings(till: RunningTill) -> dict[str, Finding]:
    """Each device the running till holds, as its status reports it: device name -> finding."""
    assert till.status is not None
    found: dict[str, Finding] = {}
    for key, device in DEVICES.items():
        entry = till.status["devices"].get(key)
        if not isinstance(entry, dict):
            continue
        state, reason = str(entry.get("state", "")), str(entry.get("reason", ""))
        details: dict[str, Any] = {"reported_by": tr("the running till at {api}").format(api=till.api)}
        if key == "control_unit":
            details.update({name: entry[name] for name in UNIT_DETAILS if entry.get(name) is not None})
        # The device answered the till unless the till says it failed (it may have answered
        # with a refusal: the reason tells).
        answered = state != "failed"
        found[device] = Finding(
            device, str(entry.get("url", "")), answered, state, reason, details, next_step_of(reason)
        )
    return found
