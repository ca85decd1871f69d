"""How long ``tillgw`` takes to start, and how much memory, before any work.

    .venv/bin/python benchmarks/bench_cli_start.py [--runs 10]

Each command line is run ``--runs`` times as its own process (``--help``, so no command
does any work); printed are the median and best wall time and the largest resident set
size of the process (``ru_maxrss``, from ``wait4``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TILLGW = Path(sys.executable).with_name("tillgw")
LINES = (
    ("tillgw", "--help"),
    ("tillgw", "run", "--help"),
    ("tillgw", "journal", "--help"),
    ("tillgw", "journal", "verify", "--help"),
    ("tillgw", "report", "--help"),
    ("tillgw", "diag", "--help"),
    ("tillgw", "sync", "--help"),
    ("tillgw", "register", "--help"),
)


def one(line: tuple[str, ...]) -> tuple[float, int]:
    """Wall time and peak resident set size (KiB) of one run of ``line``."""
    started = time.perf_counter()
    child = subprocess.Popen([str(TILLGW), *line[1:]], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(line)} exited {child.returncode}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    print(f"# tillgw start-up, CPython {platform.python_version()}, {runs} runs each")
    print("| command | median | best | peak RSS |")
    print("|---|---|---|---|")
    for line in LINES:
        times = []
        peaks = []
        for _ in range(runs):
            elapsed, peak = one(line)
            times.append(elapsed)
            peaks.append(peak)
        median, best = statistics.median(times) * 1000, min(times) * 1000
        print(f"| `{' '.join(line)}` | {median:.0f} ms | {best:.0f} ms | {max(peaks) / 1024:.0f} MB |")


if __name__ == "__main__":
    main()
