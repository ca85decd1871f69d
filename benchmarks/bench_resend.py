"""Publishes per message after an outage of the sync module: the till's resends under load.

    .venv/bin/python benchmarks/bench_resend.py [--receipts 500] [--outage 300] [--scale 1]

Goal: under 1.5 publishes per message after a sync-module outage of 300 s.

**The parts, all real** (as in ``bench_bus.py``, whose helpers this uses): a Mosquitto
started here on a free port with persistence; the sync module as ``tillgw sync --config …``
in its own process; the till side is this process — a till database with the outbox
installed and the real ``Publisher`` with the default settings of a till
(``[mqtt] in_flight = 100``, ack wait 2 s, resend backoff 1 s … 60 s).

**The run.** The sync module starts (its persistent session and subscriptions are made
at the broker) and is stopped (SIGTERM, as ``systemctl stop``). While it is away the till
writes ``--receipts`` receipts spread evenly over ``--outage`` seconds, its publisher
running all along; then the sync module is started again, and the run ends when every
message is acked. Publishes are the outbox's ``sends`` (each a PUBACKed QoS 1 publish);
after the run the inbox is checked to hold every message once.

``--scale N`` divides the outage and every wait of the publisher by N (a 300 s outage in
30 s with ``--scale 10``): the same number of stalls and resends, sooner.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_bus import TOPICS, Till, all_acked, start_mosquitto, start_sync, stored_once  # beside this script

from gateway.bus.publisher import Publisher, PublisherSettings
from gateway.common.clock import Clock
from gateway.config import MqttConfig


@dataclass
class Outcome:
    receipts: int
    during: int  # publishes while the sync module was away
    total: int  # publishes in all
    drain: float  # seconds from the sync module's start to the last ack
    resends: int


async def sends(till: Till) -> int:
    row = await till.store.fetchone("SELECT COALESCE(SUM(sends), 0) FROM outbox")
    assert row is not None
    return int(row[0])


async def run(receipts: int, outage: float, scale: float) -> Outcome:
    base = PublisherSettings()
    settings = PublisherSettings(
        ack_wait=base.ack_wait / scale,
        resend_initial=base.resend_initial / scale,
        resend_max=base.resend_max / scale,
        lost_wait=base.lost_wait / scale,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "mosquitto").mkdir()
        broker, port = start_mosquitto(folder / "mosquitto", nodelay=False)
        sync = start_sync(folder, port, nodelay=False)
        sync.stop()  # its session stays at the broker: what comes meanwhile is queued for it
        till = await Till.open(folder)
        publisher = Publisher(till.outbox, TOPICS, MqttConfig(host="127.0.0.1", port=port), settings=settings)
        try:
            await publisher.start()
            t0 = time.monotonic()
            for n in range(receipts):  # spread over the outage, as a shop sells
                await asyncio.sleep(max(0.0, t0 + n * outage / receipts - time.monotonic()))
                await till.write(1)
            await asyncio.sleep(max(0.0, t0 + outage - time.monotonic()))
            during = await sends(till)
            back = time.time()
            sync = start_sync(folder, port, nodelay=False)
            await all_acked(publisher, receipts)
            drain = await till.last_ack() - back
            total = await sends(till)
        finally:
            await publisher.close()
            await till.store.close()
            sync.stop()
            broker.stop()
        stored_once(folder, receipts)
    return Outcome(receipts, during, total, drain, publisher.resend.resends)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--receipts", type=int, default=500, help="receipts sold while the sync module is away"
    )
    parser.add_argument(
        "--outage", type=float, default=300.0, help="seconds the sync module is away (unscaled)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="divide the outage and the publisher's waits by this"
    )
    args = parser.parse_args()
    outcome = asyncio.run(run(args.receipts, args.outage / args.scale, args.scale))

    command = shlex.join([".venv/bin/python", "benchmarks/bench_resend.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    scaled = f" (time-scaled 1/{args.scale:g}: {args.outage / args.scale:g} s)" if args.scale != 1 else ""
    print(
        f"{outcome.receipts:,} receipts during a sync-module outage of {args.outage:g} s{scaled}; "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {Clock().today()}."
    )
    print()
    print("| publishes while away | publishes in all | per message | resends | drain after return |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {outcome.during:,} | {outcome.total:,} | {outcome.total / outcome.receipts:.2f} | "
        f"{outcome.resends:,} | {outcome.drain:.1f} s |"
    )
    print()
    print("Goal: under 1.5 publishes per message after an outage of 300 s.")


if __name__ == "__main__":
    main()
