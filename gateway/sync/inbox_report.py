"""``tillgw sync --status``: the inbox in words — what is booked, what waits, what is held and
what to do about each held message. Read from the inbox alone (the service may be stopped)."""

from __future__ import annotations

from gateway.common.i18n import tr
from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox
from gateway.sync.last_stored import last_stored

__all__ = ["inbox_report"]


async def inbox_report(config: SyncConfig) -> tuple[str, bool]:
    """The report's text, and whether anything is held."""
    if config.database is None and not config.inbox.exists():
        words = tr("no inbox yet at {inbox}: tillgw sync has not run with this configuration")
        return words.format(inbox=config.inbox), False
    inbox = await Inbox.open(config.store)
    try:
        counts = await inbox.counts()
        held = await inbox.held()
        waiting = await inbox.fetchall(
            "SELECT orgnr || '/' || store || '/' || register, COUNT(*) FROM inbox "
            "WHERE processed_at IS NULL AND held_reason IS NULL GROUP BY 1 ORDER BY 1"
        )
        # Where each register's series stands here: what `tillgw restore` compares a backup with.
        last = await last_stored(inbox)
    finally:
        await inbox.close()
    lines = [
        tr("inbox {inbox}: {messages} messages, {booked} booked, {not_yet} not yet, {held} held").format(
            inbox=config.store_name,
            messages=counts["messages"],
            booked=counts["processed"],
            not_yet=counts["messages"] - counts["processed"],
            held=counts["held"],
        ),
        tr("serving {routing}").format(routing=config.routing.describe()),
    ]
    if counts["set_aside"]:
        lines.append(
            tr("{count} set aside: bytes on our topics that are no till's message").format(
                count=counts["set_aside"]
            )
        )
    for mark in last:
        words = (
            tr("last stored from {register}: message {sequence}, receipt {receipt}")
            if mark.receipt
            else tr("last stored from {register}: message {sequence}, receipt none")
        )
        register = f"{mark.orgnr}/{mark.store}/{mark.register}"
        lines.append(words.format(register=register, sequence=mark.sequence, receipt=mark.receipt))
    for register, count in waiting:
        lines.append(
            tr("waiting: {register}: {count} message(s) to book, in order").format(
                register=register, count=count
            )
        )
    if held:
        lines.append("")
        # "HELD:" is the word a script looks for, in every language.
        lines.append(
            "HELD: "
            + tr("{count} message(s) — the tills show them too; nothing after a held one is booked").format(
                count=len(held)
            )
        )
        for row in held:
            what = f"{row.kind} " if row.kind else ""
            lines.append(
                "  "
                + tr("{msg_id} ({what}held by {held_by} since {since}):").format(
                    msg_id=row.msg_id, what=what, held_by=row.held_by, since=row.since
                )
            )
            lines.append(f"    {row.reason}")
        lines.append(
            tr(
                "Fix each cause, then run: tillgw sync --reprocess --config FILE "
                "(or --register R, --msg ID); it books them in order and tells the tills."
            )
        )
    else:
        lines.append(tr("nothing held"))
    return "\n".join(lines), bool(held)
