"""The control-unit demo: a simulated CleanCash unit, probed and used as a till would.

    python -m tools.control_unit_demo [--data-dir var/demo]

1. starts ``tillgw sim control-unit --pty`` and reads the pty path from its first line;
2. runs ``tillgw diag --control-unit <path>``, as a technician would on a real unit;
3. registers three receipts through the gateway's control-unit driver — a sale, a
   return, and the sale again with the same sequence number, as after a lost answer:
   the unit answers with the first control code and stores the sale once;
4. stops the unit. Its journal memory stays in ``<data-dir>/control-unit``.

The sequence and receipt numbers continue from the last run (kept in
``<data-dir>/demo-counters.json``), as a register's unbroken series would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from gateway.common.clock import Clock
from gateway.devices.control_units.interface import ControlUnitError, Registration
from gateway.devices.control_units.kinds import open_control_unit
from protocols.skv import ControlData, ReceiptType, VatSlot

ORGNR = "5560360793"
POS_ID = "KASSA-1"


def tillgw() -> list[str]:
    """The ``tillgw`` command of this installation."""
    script = Path(sys.executable).with_name("tillgw")
    if script.exists():
        return [str(script)]
    found = shutil.which("tillgw")
    return [found] if found else [sys.executable, "-m", "gateway.cli"]


def next_numbers(counters: Path) -> tuple[int, int]:
    """The next sequence and receipt numbers, carried on from the last run."""
    last = json.loads(counters.read_text()) if counters.exists() else {"seq": 0, "receipt_no": 0}
    return last["seq"] + 1, last["receipt_no"] + 1


def save_numbers(counters: Path, seq: int, receipt_no: int) -> None:
    tmp = counters.with_suffix(".tmp")
    tmp.write_text(json.dumps({"seq": seq, "receipt_no": receipt_no}))
    os.replace(tmp, counters)


def receipts(receipt_no: int) -> list[tuple[str, ControlData]]:
    now = Clock().now().replace(tzinfo=None)  # the control unit takes Swedish local time
    sale = ControlData(
        moment=now,
        orgnr=ORGNR,
        pos_id=POS_ID,
        receipt_no=receipt_no,
        receipt_type=ReceiptType.NORMAL,
        total=187_00,  # coffee 45,00 (12 %) + a mug 142,00 (25 %)
        return_total=0,
        vat=(VatSlot(2500, 28_40), VatSlot(1200, 4_82)),
    )
    refund = ControlData(
        moment=now,
        orgnr=ORGNR,
        pos_id=POS_ID,
        receipt_no=receipt_no + 1,
        receipt_type=ReceiptType.NORMAL,
        total=-142_00,  # the mug brought back
        return_total=142_00,
        vat=(VatSlot(2500, -28_40),),
    )
    return [("sale", sale), ("return", refund)]


def show(label: str, seq: int, data: ControlData, done: Registration) -> None:
    total = f"{data.total / 100:.2f}".replace(".", ",")
    print(f"  {label:<22} seq {seq:<4} receipt {data.receipt_no:<4} {total:>8} kr  code {done.code}")


async def register_all(url: str, seq: int, receipt_no: int) -> tuple[int, int]:
    async with open_control_unit(url, POS_ID, request_timeout=2.0) as unit:
        ident = await unit.start()
        print(f"\nRegistering receipts with unit {ident.unit_id} ({ident.protocol_name}):")
        sale_seq = seq
        for label, data in receipts(receipt_no):
            done = await unit.register(seq, data)
            show(label, seq, data, done)
            seq += 1
        sale = receipts(receipt_no)[0][1]
        again = await unit.register(sale_seq, sale)
        show("sale again (a retry)", sale_seq, sale, again)
        print(f"  unit state: {unit.reason}")
    return seq - 1, receipt_no + 1


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the control-unit demo.")
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    args = parser.parse_args()
    unit_dir = args.data_dir / "control-unit"
    unit_dir.mkdir(parents=True, exist_ok=True)
    counters = args.data_dir / "demo-counters.json"

    print("Starting a simulated CleanCash control unit on a pseudo-terminal ...")
    sim = subprocess.Popen(
        [*tillgw(), "sim", "control-unit", "--pty", "--data-dir", str(unit_dir), "--pos-id", POS_ID],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        if not path:
            print("error: the simulated unit did not start (see its messages above)", file=sys.stderr)
            return 1
        print(f"The unit serves CCSP on {path}.\n")
        print(f"$ tillgw diag --control-unit {path}")
        sys.stdout.flush()
        diag = subprocess.run([*tillgw(), "diag", "--control-unit", path], check=False)
        if diag.returncode != 0:
            print("error: diag found no working control unit", file=sys.stderr)
            return 1
        seq, receipt_no = next_numbers(counters)
        try:
            last_seq, last_no = asyncio.run(register_all(path, seq, receipt_no))
        except ControlUnitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        save_numbers(counters, last_seq, last_no)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
    print(f"\nThe unit is stopped. Its journal memory: {unit_dir / 'journal-memory.jsonl'}")
    print("Run the demo again: the numbers go on, and the unit keeps its identity and memory.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
