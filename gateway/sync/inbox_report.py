"""``tillgw sync --status``: the inbox in words — what is booked, what waits, what is held and
what to do about each held message. Read from the inbox alone (the service may be stopped)."""

from __future__ import annotations

from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox

__all__ = ["inbox_report"]


async def inbox_report(config: SyncConfig) -> tuple[str, bool]:
    """The report's text, and whether anything is held."""
    if config.database is None and not config.inbox.exists():
        return f"no inbox yet at {config.inbox}: tillgw sync has not run with this configuration", False
    inbox = await Inbox.open(config.store)
    try:
        counts = await inbox.counts()
        held = await inbox.held()
        waiting = await inbox.fetchall(
            "SELECT orgnr || '/' || store || '/' || register, COUNT(*) FROM inbox "
            "WHERE processed_at IS NULL AND held_reason IS NULL GROUP BY 1 ORDER BY 1"
        )
        # Where each register's series stands here: what `tillgw restore` compares a backup with.
        last = await inbox.fetchall(
            "SELECT orgnr || '/' || store || '/' || register, MAX(sequence), "
            "MAX(CASE WHEN kind = 'receipt' "
            "THEN json_extract(CAST(message AS TEXT), '$.payload.receipt_no') END) "
            "FROM inbox GROUP BY 1 ORDER BY 1"
        )
    finally:
        await inbox.close()
    lines = [
        f"inbox {config.store_name}: {counts['messages']} messages, {counts['processed']} booked, "
        f"{counts['messages'] - counts['processed']} not yet, {counts['held']} held",
        f"serving {config.routing.describe()}",
    ]
    if counts["set_aside"]:
        lines.append(f"{counts['set_aside']} set aside: bytes on our topics that are no till's message")
    for register, sequence, receipt in last:
        lines.append(f"last stored from {register}: message {sequence}, receipt {receipt or 'none'}")
    for register, count in waiting:
        lines.append(f"waiting: {register}: {count} message(s) to book, in order")
    if held:
        lines.append("")
        lines.append(
            f"HELD: {len(held)} message(s) — the tills show them too; nothing after a held one is booked"
        )
        for row in held:
            what = f"{row.kind} " if row.kind else ""
            lines.append(f"  {row.msg_id} ({what}held by {row.held_by} since {row.since}):")
            lines.append(f"    {row.reason}")
        lines.append(
            "Fix each cause, then run: tillgw sync --reprocess --config FILE "
            "(or --register R, --msg ID); it books them in order and tells the tills."
        )
    else:
        lines.append("nothing held")
    return "\n".join(lines), bool(held)
