"""How much memory the till process holds when it is up and idle.

    .venv/bin/python benchmarks/bench_till_memory.py [--runs 3] [--settle 3] [--mqtt 127.0.0.1:1883]

Two set-ups, each started ``--runs`` times in a fresh temporary directory:

* *demo* — ``tillgw run`` with no config (its own ``--data-dir`` and ``--http`` port): one
  process holding the till, the simulated control unit and printer on pseudo-terminals
  and the demo's ERP sync module (an asyncio task, not a process). The demo's MQTT
  broker is the one at ``--mqtt`` when it answers (an embedded one, in the till's
  process too, otherwise).
* *till* — ``tillgw run --config``: the till alone, as in a shop. The control unit and
  the printer are ``tillgw sim control-unit --pty`` and ``tillgw sim printer --pty``
  processes, the ERP sync module is ``tillgw sync --config`` with the same file, the bus
  is the broker at ``--mqtt``. Each process is reported on its own line.

Once ``GET /v1/status`` answers, the benchmark waits ``--settle`` seconds and reads each
process's ``VmRSS`` (resident now), ``RssAnon`` (its own heap and stacks; the rest of
``VmRSS`` is pages of the interpreter's and the libraries' files, shared with every
other process that maps them) and ``VmHWM`` (the most it held) from
``/proc/<pid>/status``. Printed is the median of the runs.

Then, with ``--breakdown``, where the till's memory goes: a fresh interpreter imports
what ``tillgw run --config`` imports, one group at a time, and the growth of its
``VmRSS`` after each group is printed. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

TILLGW = str(Path(sys.executable).with_name("tillgw"))
FIELDS = ("VmRSS", "RssAnon", "VmHWM")  # kB in /proc/<pid>/status
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def memory(pid: int) -> dict[str, float]:
    """``FIELDS`` of process ``pid`` in MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in FIELDS:
            found[key] = int(value.split()[0]) / 1024
    return found


@contextmanager
def running(command: list[str], cwd: Path, *, first_line: bool = False) -> Iterator[tuple[int, str]]:
    """``command`` as a child process until the block ends; its pid and (if asked) its first output line."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.PIPE,  # the simulators read commands from it; closed only at the end
        stdout=subprocess.PIPE if first_line else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = ""
        if first_line:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line:
                raise SystemExit(f"{' '.join(command)} said nothing (exit {proc.wait()})")
        yield proc.pid, line
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_status(port: int, token_file: Path, pid: int) -> None:
    """Until ``GET /v1/status`` answers 200 (the till is up: devices opened, API serving)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            raise SystemExit("the till exited before its API answered")
        if token_file.exists() and token_file.read_text().strip():
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/status",
                headers={"Authorization": f"Bearer {token_file.read_text().strip()}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    json.load(answer)
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.2)
    raise SystemExit(f"GET /v1/status did not answer within {STARTUP_SECONDS:.0f} s")


def demo(directory: Path, settle: float) -> dict[str, dict[str, float]]:
    port = free_port()
    data = directory / "var"
    command = [TILLGW, "run", "--data-dir", str(data), "--http", f"127.0.0.1:{port}"]
    with running(command, directory) as (pid, _):
        wait_for_status(port, data / "api-token", pid)
        time.sleep(settle)
        return {"tillgw run (demo)": memory(pid)}


def till_config(unit: str, printer: str, port: int, mqtt: str, client_id: str) -> str:
    return f"""\
[shop]
name = "Minnesmätning AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "KASSA-1"
data_dir = "till"

[control_unit]
url = "{unit}"

[printer]
url = "{printer}"

[api]
listen = "127.0.0.1:{port}"

[mqtt]
url = "mqtt://{mqtt}"

[sync]
data_dir = "sync"
client_id = "{client_id}"
"""


def configured(directory: Path, settle: float, mqtt: str) -> dict[str, dict[str, float]]:
    port = free_port()
    with ExitStack() as stack:
        unit_pid, unit = stack.enter_context(
            running(
                [TILLGW, "sim", "control-unit", "--pty", "--data-dir", str(directory / "unit")],
                directory,
                first_line=True,
            )
        )
        printer_pid, printer = stack.enter_context(
            running(
                [TILLGW, "sim", "printer", "--pty", "--no-png", "--output", str(directory / "printer")],
                directory,
                first_line=True,
            )
        )
        config = directory / "till.toml"
        config.write_text(till_config(unit, printer, port, mqtt, f"bench-memory-{os.getpid()}"), "utf-8")
        till_pid, _ = stack.enter_context(running([TILLGW, "run", "--config", str(config)], directory))
        sync_pid, _ = stack.enter_context(running([TILLGW, "sync", "--config", str(config)], directory))
        wait_for_status(port, directory / "till" / "api-token", till_pid)
        time.sleep(settle)
        return {
            "tillgw run --config": memory(till_pid),
            "tillgw sync --config": memory(sync_pid),
            "tillgw sim control-unit --pty": memory(unit_pid),
            "tillgw sim printer --pty": memory(printer_pid),
        }


# What the till imports, in groups, each after the ones above it (a group's share of what
# both use goes to the first). The stdlib modules asyncio, ssl and sqlite3 come with the interpreter.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the interpreter with asyncio, ssl, sqlite3", ("asyncio", "ssl", "sqlite3", "json", "logging")),
    (
        "cryptography (Ed25519: the journal's signatures, the acks' proofs)",
        (
            "cryptography.hazmat.primitives.asymmetric.ed25519",
            "cryptography.hazmat.primitives.serialization",
        ),
    ),
    (
        "construct and the device codecs (CCSP, ESC/POS, SKV)",
        (
            "construct",
            "protocols.ccsp",
            "protocols.escpos",
            "protocols.skv",
            "serial",
        ),
    ),
    ("paho-mqtt and aiomqtt (the bus)", ("paho.mqtt.client", "aiomqtt")),
    ("aiohttp (the API; its package loads the client too)", ("aiohttp", "aiohttp.web")),
    ("the gateway's own modules", ("gateway.cli.run", "gateway.till", "gateway.api.app")),
)

BREAKDOWN = """
import importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
before, grown = rss(), []
for name, modules in json.loads(sys.argv[1]):
    for module in modules:
        importlib.import_module(module)
    now = rss()
    grown.append((name, now - before if grown else now))
    before = now
print(json.dumps(grown))
"""


def breakdown() -> list[tuple[str, float]]:
    """Each group's growth of ``VmRSS`` in a fresh interpreter (the first: all of it so far)."""
    answer = subprocess.run(
        [sys.executable, "-c", BREAKDOWN, json.dumps(GROUPS)], capture_output=True, text=True, check=True
    )
    return [(name, float(mb)) for name, mb in json.loads(answer.stdout)]


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), {platform.python_implementation()} {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading (default 3)")
    parser.add_argument("--mqtt", default="127.0.0.1:1883", help="the broker (default 127.0.0.1:1883)")
    parser.add_argument("--breakdown", action="store_true", help="also: which imports take the memory")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            # The demo's broker address is fixed (its config's 127.0.0.1:1883).
            for name, mem in {**demo(Path(tmp), args.settle)}.items():
                results.setdefault(name, []).append(mem)
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            for name, mem in configured(Path(tmp), args.settle, args.mqtt).items():
                results.setdefault(name, []).append(mem)
    print(f"# idle memory after GET /v1/status answered and {args.settle:g} s more; {machine()}")
    print(f"# median of {args.runs} runs, MB")
    print("| process | VmRSS | RssAnon | VmHWM |")
    print("|---|---:|---:|---:|")
    for name, runs in results.items():
        cells = [statistics.median(run[field] for run in runs) for field in FIELDS]
        print(f"| `{name}` | {cells[0]:.1f} | {cells[1]:.1f} | {cells[2]:.1f} |")
    if args.breakdown:
        print()
        print("| what `tillgw run --config` imports | VmRSS grows by |")
        print("|---|---:|")
        total = 0.0
        for name, grown in breakdown():
            total += grown
            print(f"| {name} | {grown:.1f} MB |")
        print(f"| all of it | {total:.1f} MB |")


if __name__ == "__main__":
    main()
