"""The crash test: the gateway killed with SIGKILL at many moments, and nothing lost or doubled.

Real processes, real SQLite, real TCP, as on a till:

* the simulated control unit runs as its own process for the whole test, like the real
  unit beside the till, once for every kind a till can reach: a CleanCash over CCSP
  (``tillgw sim control-unit --listen tcp://127.0.0.1:0``), an XCCSP server demanding
  Digest credentials, Infrasec TCS over HTTPS with a client certificate, srv4pos over
  HTTPS with an API key; its journal memory is fsynced before it answers;
* ``tillgw run --config till.toml`` is started, killed with SIGKILL after a delay drawn
  from a seeded RNG, and started again, :data:`RUNS` times;
* a POS (a few concurrent posters over HTTP) posts receipts with ids of its own
  (``run{k}-{n}``): cash and card, sales and returns. After every restart it first posts
  again, with the same id and the same body, every receipt that got no 2xx answer yet —
  what a real POS does — and then goes on with new ones until the gateway dies.

The bus is off (``[mqtt] enabled = false``): this is the fiscal core, and the test must
not depend on a broker the machine may or may not run. The API listens on a port below
the ephemeral range; should another program take it while the gateway is down all the
same, the run is started again on another port (and the summary says so).

The kill delays are the test's input (:func:`kill_schedule`). Four kinds, drawn per run:

* ``startup``: 30-100 % of the median start-up time so far (spawn to the API's first
  line), counted from the spawn — the process dies while it imports, opens the database
  or the key, or shakes hands with the unit;
* ``reconcile``: 0-10 ms after the gateway logs the unit ready, the last step before the
  start-up reconciliation — it dies while it sends a receipt the previous kill left in
  doubt again, or as the API opens;
* ``reposts``: 0-30 ms after the API is up — while the POS posts its unanswered receipts
  again;
* ``stream``: 30-800 ms after the API is up — in the middle of the stream.

Then a last, clean run posts what is still unanswered, asks a sample of answered ids
again, and stops the gateway with SIGTERM. Checked afterwards:

* every id posted got a 2xx answer, and the same receipt number every time it was asked;
  once answered, it is answered 200 (a repeat), never 201 again;
* the receipt numbers in the database are exactly 1..N, N the number of ids: no gap, no
  duplicate, no receipt without an id, each id's receipt the number it was answered;
* the control unit's journal memory and the database hold the same registrations:
  equal sets of (receipt number, control code), none twice in the unit;
* ``tillgw journal verify`` (and ``--all-signatures``) exits 0;
* nothing is left in doubt or pending.

No sleep synchronises anything: the test waits for a process's output line, an HTTP
answer or a process's exit. Nothing is timed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

# A longer soak or another schedule: TILLGW_CRASH_RUNS=500 TILLGW_CRASH_SEED=7 pytest <this file>
RUNS = int(os.environ.get("TILLGW_CRASH_RUNS", "60"))  # runs that end in SIGKILL; a clean run follows
HTTP_RUNS = max(1, RUNS // 3)  # the same for each HTTP kind: the fiscal core is shared, their drivers are not
SEED = int(os.environ.get("TILLGW_CRASH_SEED", "20261121"))
POSTERS = 3  # concurrent POS clients
POS_ID = "KASSA-1"
SAMPLE_REASKED = 200  # answered ids asked again in the clean run
REQUEST_TIMEOUT = 60.0  # a hung gateway fails the test instead of hanging it

TILLGW = Path(sys.executable).with_name("tillgw")


def tillgw(*args: str) -> list[str]:
    if TILLGW.exists():
        return [str(TILLGW), *args]
    return [sys.executable, "-m", "gateway.cli", *args]  # pragma: no cover - not installed as a script


# -- the POS's receipts -----------------------------------------------------------------------


def _money(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def receipt_body(request_id: str) -> dict[str, Any]:
    """A receipt for ``request_id``, the same every time: cash or card, sale or return."""
    rng = random.Random(f"{SEED}:{request_id}")
    is_return = rng.random() < 0.15
    cash = rng.random() < 0.5
    sign = -1 if is_return else 1
    lines = []
    total = 0
    for i in range(rng.randint(1, 3)):
        # Whole kronor on returns, so that a cash refund is exactly the total (no rounding).
        price = rng.randint(5, 300) * 100 if is_return else rng.randint(500, 30_000)
        qty = rng.randint(1, 3)
        lines.append(
            {
                "text": f"Vara {i + 1}",
                "quantity": sign * qty,
                "unit_price": _money(price),
                "vat_rate": rng.choice((25, 12, 6)),
                "group": rng.choice(("Dryck", "Mat", "Övrigt")),
            }
        )
        total += sign * qty * price
    if not cash:
        payment = {"method": "card", "amount": _money(total)}
    elif is_return:
        payment = {"method": "cash", "amount": _money(total)}
    else:  # tendered: the next whole krona above the total, never less than the rounded amount
        payment = {"method": "cash", "amount": _money((total // 100 + 1) * 100)}
    return {"id": request_id, "cashier": "Anna", "lines": lines, "payments": [payment]}


@dataclass
class Pos:
    """What the POS knows: what it posted, what it was answered, what is still unanswered."""

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # in order of first post
    answers: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # id -> [(status, receipt_no)]
    unanswered: dict[str, None] = field(default_factory=dict)  # ids without a 2xx, in order
    unexpected: list[str] = field(default_factory=list)  # answers no POS should ever get
    posts: int = 0
    lost: int = 0  # requests the kill left without an answer

    def new_id(self, run: int, n: int) -> str:
        request_id = f"run{run}-{n}"
        self.bodies[request_id] = receipt_body(request_id)
        self.unanswered[request_id] = None
        return request_id


class GatewayGone(Exception):
    """The gateway stopped answering: it was killed."""


async def post(session: aiohttp.ClientSession, api: str, token: str, pos: Pos, request_id: str) -> None:
    """Post one receipt and record the answer; :class:`GatewayGone` if none came."""
    pos.posts += 1
    try:
        async with session.post(
            f"{api}/v1/receipts",
            json=pos.bodies[request_id],
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            answer = await response.json()
            status = response.status
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        pos.lost += 1
        raise GatewayGone(str(exc)) from None
    if status in (200, 201):
        pos.answers.setdefault(request_id, []).append((status, int(answer["receipt_no"])))
        pos.unanswered.pop(request_id, None)
    elif status == 503:  # the unit did not answer: the POS repeats the same request later
        pos.unexpected.append(f"{request_id}: 503 {answer}")  # the simulator always answers
    else:
        pos.unexpected.append(f"{request_id}: {status} {answer}")


async def poster(
    session: aiohttp.ClientSession,
    api: str,
    token: str,
    pos: Pos,
    work: collections.deque[str],
    more: Callable[[], str | None],
) -> None:
    """Post from ``work`` (the unanswered ids first), then new ids from ``more()``, until the gateway dies."""
    while True:
        request_id = work.popleft() if work else more()
        if request_id is None:
            return
        try:
            await post(session, api, token, pos, request_id)
        except GatewayGone:
            return


# -- the processes ---------------------------------------------------------------------------


def free_port() -> int:
    """A free port below the ephemeral range, so that no other program's connection or
    ``bind(0)`` takes it while the gateway is down between a kill and its restart."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    pick = random.SystemRandom()
    for _ in range(100):
        port = pick.randrange(10_000, max(low, 10_001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")  # pragma: no cover


@dataclass
class Gateway:
    """The gateway's configuration file, its data directory and where its API listens."""

    config: Path
    data_dir: Path
    unit_url: str
    unit_keys: str = ""  # more [control_unit] lines: the kind's credentials
    port: int = 0
    moves: int = 0  # how often another program took the API's port while the gateway was down

    def listen_elsewhere(self) -> None:
        self.port = free_port()
        self.config.write_text(
            standalone_till_toml(self.data_dir, self.unit_url, self.port, unit_keys=self.unit_keys),
            encoding="utf-8",
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self) -> str:
        return (self.data_dir / "api-token").read_text().strip()


@dataclass
class RunLog:
    mode: str
    delay: float
    api_up: bool = False
    startup: float | None = None  # seconds from spawn to the first line
    answered: int = 0
    stderr: list[bytes] = field(default_factory=list)

    @property
    def in_doubt_resolved(self) -> int:
        return sum(b"left in doubt" in line for line in self.stderr)

    def tail(self, lines: int = 30) -> str:
        return b"".join(self.stderr[-lines:]).decode(errors="replace")


MODES = ("startup", "reconcile", "reposts", "stream")


def kill_schedule(rng: random.Random, runs: int = RUNS) -> list[tuple[str, float]]:
    """Per run: the kind of moment and its parameter (see the module's docstring)."""
    schedule = []
    for _ in range(runs):
        draw = rng.random()
        if draw < 0.2:
            schedule.append(("startup", rng.uniform(0.3, 1.0)))
        elif draw < 0.4:
            schedule.append(("reconcile", rng.uniform(0.0, 0.01)))
        elif draw < 0.6:
            schedule.append(("reposts", rng.uniform(0.0, 0.03)))
        else:
            schedule.append(("stream", rng.uniform(0.03, 0.8)))
    return schedule


def kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def start_gateway(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *tillgw("run", "--config", str(config)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_log(proc: asyncio.subprocess.Process, log: RunLog, on_ready: Callable[[], None]) -> None:
    """Keep the gateway's log (its stderr) until it ends; ``on_ready`` when the unit is ready.

    The unit's handshake is the last step before the start-up reconciliation.
    """
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        log.stderr.append(line)
        if b"tillgw.devices.health: control unit" in line and line.rstrip().endswith(b": ready"):
            on_ready()


async def one_run(k: int, mode: str, x: float, till: Gateway, pos: Pos, startups: list[float]) -> RunLog:
    """Start the gateway, post until it is killed; returns what happened."""
    loop = asyncio.get_running_loop()
    estimate = statistics.median(startups) if startups else 0.6
    delay = x * estimate if mode == "startup" else x
    log = RunLog(mode, delay)
    timers: list[asyncio.TimerHandle] = []
    spawned = time.monotonic()
    proc = await start_gateway(till.config)

    def kill_in(seconds: float) -> None:
        if not timers:  # one kill per run, at the first moment its mode names
            timers.append(loop.call_later(seconds, kill, proc))

    def unit_ready() -> None:
        if mode == "reconcile":
            kill_in(delay)

    if mode == "startup":
        kill_in(delay)
    reader = asyncio.create_task(read_log(proc, log, unit_ready))
    assert proc.stdout is not None
    first = await proc.stdout.readline()
    if first.startswith(b"tillgw: API on "):
        log.api_up = True
        log.startup = time.monotonic() - spawned
        startups.append(log.startup)
        kill_in(delay)
        token = till.token()
        answered_before = sum(len(a) for a in pos.answers.values())
        work = collections.deque(pos.unanswered)  # first the receipts still unanswered
        counter = iter(range(1_000_000))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
            await asyncio.gather(
                *(
                    poster(session, till.api, token, pos, work, lambda: pos.new_id(k, next(counter)))
                    for _ in range(POSTERS)
                )
            )
        log.answered = sum(len(a) for a in pos.answers.values()) - answered_before
    returncode = await proc.wait()
    await reader
    for timer in timers:
        timer.cancel()
    assert not first or log.api_up, f"run {k}: unexpected first line {first!r}\n{log.tail()}"
    if returncode == 1 and not log.api_up and b"address already in use" in b"".join(log.stderr):
        till.moves += 1  # not the gateway's fault: start this run again on another port
        till.listen_elsewhere()
        return await one_run(k, mode, x, till, pos, startups)
    assert returncode == -signal.SIGKILL, (
        f"run {k}: the gateway ended by itself ({returncode}), not by the kill:\n{log.tail()}"
    )
    return log


async def clean_run(till: Gateway, pos: Pos, rng: random.Random) -> RunLog:
    """Post every unanswered receipt again, ask a sample of answered ids again, stop with SIGTERM."""
    log = RunLog("clean", 0.0)
    proc = await start_gateway(till.config)
    reader = asyncio.create_task(read_log(proc, log, lambda: None))
    assert proc.stdout is not None
    first = await proc.stdout.readline()
    try:
        assert first.startswith(b"tillgw: API on "), f"{first!r}"
        token = till.token()
        answered = [i for i in pos.bodies if i in pos.answers]
        sample = rng.sample(answered, min(SAMPLE_REASKED, len(answered)))
        work = collections.deque([*pos.unanswered, *sample])
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
            await asyncio.gather(
                *(poster(session, till.api, token, pos, work, lambda: None) for _ in range(POSTERS))
            )
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        returncode = await proc.wait()
        await reader
    assert returncode == 0, f"the gateway did not stop cleanly ({returncode}):\n{log.tail()}"
    return log


def standalone_till_toml(
    data_dir: Path, unit_url: str, port: int, *, unit_keys: str = "", register_keys: str = ""
) -> str:
    """A till's config with no bus (the fiscal core on its own, whatever broker this machine
    runs): its data in ``data_dir``, its unit at ``unit_url`` (and ``unit_keys``), its API on
    ``port``."""
    return f"""\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]
language = "en"  # the till's words in English, as these tests read them

[register]
pos_id = "{POS_ID}"
data_dir = "{data_dir}"
{register_keys}

[control_unit]
url = "{unit_url}"
{unit_keys}

[api]
listen = "127.0.0.1:{port}"

[mqtt]
enabled = false
"""


# How each kind of simulated unit is started, and the [control_unit] lines a till needs
# for it beyond its url (read from what the simulator prints: its CA, certificate, key).
BACKENDS: dict[str, tuple[str, ...]] = {
    "ccsp": ("--listen", "tcp://127.0.0.1:0"),
    "xccsp": ("--kind", "xccsp", "--credentials", "kassa:hemlig", "--auth", "digest"),
    "tcs": ("--kind", "tcs", "--application-id", "tillgw-crash", "--orgnr", "5560360793"),
    "srv4pos": ("--kind", "srv4pos", "--orgnr", "5560360793", "--corporate-id", "crash", "--api-key", "k3y"),
}
_SETTING = re.compile(r"(\w+) = '([^']*)'")


async def start_unit(backend: str, unit_dir: Path, log: Any) -> tuple[asyncio.subprocess.Process, str, str]:
    """The simulated unit for ``backend``: its process, the url and the other keys a till needs."""
    extra: tuple[str, ...] = ("--tls-dir", str(unit_dir / "tls")) if backend == "srv4pos" else ()
    unit = await asyncio.create_subprocess_exec(
        *tillgw("sim", "control-unit", *BACKENDS[backend], *extra),
        *("--data-dir", str(unit_dir), "--licences", "1"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    assert unit.stdout is not None
    url = (await unit.stdout.readline()).decode().strip()
    keys: dict[str, str] = {}
    while not (line := (await unit.stdout.readline()).decode()).startswith("type 'help'"):
        assert line, "the simulated unit stopped"
        keys.update(_SETTING.findall(line))
    if backend == "xccsp":
        url = url.replace("http://", "http://kassa:hemlig@")
    elif backend == "tcs":
        keys["application_id"] = "tillgw-crash"
    return unit, url, "\n".join(f"{key} = {json.dumps(value)}" for key, value in keys.items())


async def crash_runs(tmp_path: Path, backend: str = "ccsp") -> tuple[Pos, list[RunLog], Gateway, Path]:
    unit_dir = tmp_path / "unit"
    with open(tmp_path / "unit.log", "wb") as unit_log:  # noqa: ASYNC230 - a local file
        unit, unit_url, unit_keys = await start_unit(backend, unit_dir, unit_log)
    try:
        till = Gateway(tmp_path / "till.toml", tmp_path / "till", unit_url, unit_keys)
        till.listen_elsewhere()
        rng = random.Random(SEED)
        pos = Pos()
        logs: list[RunLog] = []
        startups: list[float] = []
        for k, (mode, x) in enumerate(kill_schedule(rng, RUNS if backend == "ccsp" else HTTP_RUNS)):
            logs.append(await one_run(k, mode, x, till, pos, startups))
        logs.append(await clean_run(till, pos, rng))
    finally:
        with contextlib.suppress(ProcessLookupError):
            unit.send_signal(signal.SIGTERM)
        await unit.wait()
    return pos, logs, till, unit_dir


async def run_tillgw(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *tillgw(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


# -- the checks -------------------------------------------------------------------------------


def our_receipts(database: Path) -> list[tuple[int, str, str | None, str]]:
    """(receipt_no, kind, request_id, control_code) of every receipt (not copies) in the database."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT receipt_no, kind, request_id, control_code FROM receipts "
            "WHERE kind != 'kopia' ORDER BY receipt_no"
        ).fetchall()
        assert conn.execute("SELECT COUNT(*) FROM in_doubt").fetchone() == (0,), "receipts left in doubt"
        states = dict(conn.execute("SELECT state, COUNT(*) FROM requests GROUP BY state").fetchall())
        assert set(states) <= {"done"}, f"requests not done: {states}"
    finally:
        conn.close()
    return [(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]


def unit_registrations(unit_dir: Path) -> list[tuple[int, str, str]]:
    """(receipt number, type, control code) of every registration in the unit's journal memory."""
    out = []
    for line in (unit_dir / "journal-memory.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["pos_id"] == POS_ID
        fields = record["data"].split("|")
        out.append((int(fields[3]), fields[4], record["code"]))
    return out


@pytest.mark.soak
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_the_gateway_killed_at_any_moment_loses_and_doubles_nothing(tmp_path: Path, backend: str) -> None:
    pos, logs, till, unit_dir = asyncio.run(crash_runs(tmp_path, backend))
    config = str(till.config)
    verify = asyncio.run(run_tillgw("journal", "verify", "--config", config))
    verify_all = asyncio.run(run_tillgw("journal", "verify", "--config", config, "--all-signatures"))

    kills = logs[:-1]
    print(
        f"\n{len(kills)} kills ("
        + ", ".join(f"{m}: {sum(log.mode == m for log in kills)}" for m in MODES)
        + f"); {sum(not log.api_up for log in kills)} before the API was up, "
        f"{sum(not log.api_up and log.in_doubt_resolved > 0 for log in kills)} of them while resolving "
        f"a receipt left in doubt; {len(pos.bodies)} receipts, {pos.posts} posts, {pos.lost} lost to a "
        f"kill, {sum(log.in_doubt_resolved for log in logs)} resolutions of a receipt in doubt"
        + (f"; the API's port was taken {till.moves} times and moved" if till.moves else "")
    )

    # The POS: every id answered with one receipt number, however often it asked.
    assert pos.unexpected == []
    assert list(pos.unanswered) == []
    numbers = {}
    for request_id in pos.bodies:
        got = {no for _, no in pos.answers[request_id]}
        assert len(got) == 1, f"{request_id} got receipt numbers {sorted(got)}"
        repeats = [status for status, _ in pos.answers[request_id][1:]]
        assert set(repeats) <= {200}, f"{request_id} was answered {pos.answers[request_id]}"
        numbers[request_id] = got.pop()
    assert len(set(numbers.values())) == len(numbers), "two ids got the same receipt number"

    # The database: numbers 1..N, one per id, as answered; nothing in doubt.
    ours = our_receipts(till.data_dir / "till.db")
    assert [no for no, *_ in ours] == list(range(1, len(pos.bodies) + 1))
    assert {request_id: no for no, _, request_id, _ in ours} == numbers

    # The control unit's journal memory: the same registrations, none twice.
    theirs = unit_registrations(unit_dir)
    assert len({no for no, _, _ in theirs}) == len(theirs), "a receipt number registered twice in the unit"
    assert {(no, kind, code) for no, kind, code in theirs} == {(no, kind, code) for no, kind, _, code in ours}

    # The journal: the chain holds, and every entry is signed by the till.
    assert verify[0] == 0, verify[1]
    assert verify_all[0] == 0, verify_all[1]
