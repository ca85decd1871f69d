"""The whole chain under failure, two stores on one broker: all killed mid-stream, nothing lost or doubled.

Real processes, real SQLite, real TCP, as in a store:

* two stores of the company: Växjö with tills KASSA-1 and KASSA-2, Lund with a till
  KASSA-1 too — each store with its simulated control unit, its own process (``tillgw
  sim control-unit``, a licence per till) and its own sync module;
* a real Mosquitto on a free port below the ephemeral range, with a temporary
  configuration: ``persistence true`` in tmp_path, anonymous, ``max_queued_messages
  100000`` (the ``Mosquitto`` helper of tests/bus/conftest.py, plus a SIGKILL);
* three tills, ``tillgw run --config KASSA-n.toml``: ``[mqtt] url`` the test's broker,
  ``[shop] store``, no printer, data in tmp_path (Lund's in tmp_path/lund);
* two sync modules on the one broker, ``tillgw sync --config sync.toml`` (only ``[mqtt]``
  and ``[sync]``: inbox, SIE and log folders of their own, their own client id, the
  default share group): Växjö's lists its two registers, Lund's serves ``stores =
  ["5560360793/lund"]``;
* one POS per till posting receipts with ids of its own (``KASSA-n-k``, bodies from
  tests/fiscal/test_crash.py) and asking for a Z report every 20-60 receipts. After its
  till restarts it first posts again, with the same id and body, every receipt that got
  no answer. A Z report has no id, so a Z request the kill cut off is not repeated: the
  till's database says whether it was made.

The failures are the test's input (:func:`chaos_schedule`, seeded): ``ROUNDS`` of each
kind, shuffled and overlapping, each after a number of receipts answered (the two tills
together) since the one before it was done, so that the same seed gives the same
sequence of failures against the same stream —

* the broker stopped (SIGTERM: Mosquitto saves its sessions) or killed (SIGKILL: it comes
  back with what it last saved), in turns, and started again 20-80 receipts later;
  meanwhile the tills sell on, and each till's ``GET /v1/status`` must count in its outbox
  depth every receipt first posted after the broker was gone;
* a till killed with SIGKILL, a Växjö till and Lund's in turns, and started again at once
  (its POS waits, then posts what was unanswered) — ``2 * ROUNDS`` of them;
* a sync module killed with SIGKILL, the two stores' in turns — once it has said it is
  connected, if the broker runs, so that it dies taking messages — and started again at
  once or 10-50 receipts later; ``ROUNDS`` of each store's.

Then each POS posts what is unanswered and a last Z report, and the test waits (polling
a condition, with a generous deadline) until each till's ``GET /v1/status`` shows an
empty outbox and the inbox holds and has processed as many messages as each outbox
has. Everything is stopped with SIGTERM and the databases are read directly:

* every outbox message of each till is in its own store's inbox exactly once, byte for
  byte, acked ``stored``; nothing set aside; the register's sequences are 1..N without a
  gap; neither store's inbox or SIE folder has anything of the other store (the two
  KASSA-1 are two registers);
* processed in order: ``processed_at`` never goes back as the sequence goes up, and the
  sync log's ``processed`` ranges never overlap (nothing processed twice);
* every Z report in a till's outbox has exactly one ``sie_files`` row and one SIE file,
  with one voucher that balances (tests/sync/sie_reader.py checks the whole file) and
  that debits exactly what the receipts of the Z's period took in;
* every receipt the POS posted got one receipt number, and is on the bus;
* neither sync module's log has an ERROR but the broker's outages.

Nothing is timed and no sleep stands in for a synchronisation: the test waits for a
process's output, an HTTP answer, a process's exit, or (at the end) a condition.
``TILLGW_CHAOS_SEED`` and ``TILLGW_CHAOS_ROUNDS`` change the schedule. Each process's
output over all its runs is left in tmp_path (``KASSA-1.log``, ``sync.log``,
``mosquitto.log`` …) for a post-mortem; about 30 s on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bus.conftest import Mosquitto
from tests.fiscal.test_crash import free_port, receipt_body, tillgw
from tests.sync.sie_reader import read_sie

SEED = int(os.environ.get("TILLGW_CHAOS_SEED", "20261122"))
ROUNDS = int(os.environ.get("TILLGW_CHAOS_ROUNDS", "5"))  # failures of each kind
ORGNR = "5560360793"
STORE = "vaxjo"
REGISTERS = ("KASSA-1", "KASSA-2")
SECOND = "lund"  # the second store of the company, on the same broker: its till is KASSA-1 too
STORES = {STORE: REGISTERS, SECOND: ("KASSA-1",)}
TILLS = tuple(f"{store}/{register}" for store, registers in STORES.items() for register in registers)
TAIL = 40  # receipts after the last failure before the POS finishes
DRAIN_DEADLINE = 120.0  # seconds for the outboxes to empty: a hang guard, not a measurement
REQUEST_TIMEOUT = 60.0
PAYMENT_ACCOUNTS = {"1910", "1580", "2421", "1930", "1689"}  # the default BAS accounts of the means


# -- the processes ----------------------------------------------------------------------------


class Broker(Mosquitto):
    """The helper of tests/bus, and a SIGKILL: Mosquitto comes back with what it last saved."""

    async def kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await self.stop()


class Service:
    """A ``tillgw`` command as its own process, its output kept (and shown if the test fails)."""

    def __init__(self, name: str, *args: str) -> None:
        self.name = name
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self.starts = 0
        self.kills = 0
        self._readers: list[asyncio.Task[None]] = []

    async def spawn(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *tillgw(*self.args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        self._readers = [asyncio.create_task(self._read(proc.stderr))]
        self.proc = proc
        self.starts += 1
        return proc

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.lines.append(text)
            self.seen(text)

    def seen(self, line: str) -> None:
        """Each line of output, as it comes."""

    def read_rest(self, stream: asyncio.StreamReader) -> None:
        self._readers.append(asyncio.create_task(self._read(stream)))

    async def _ended(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        await asyncio.gather(*self._readers)
        self.proc = None
        return code

    async def kill(self) -> None:
        assert self.proc is not None, f"{self.name} is not running"
        self.proc.kill()
        code = await self._ended()
        self.kills += 1
        assert code == -signal.SIGKILL, f"{self.name} ended by itself ({code}):\n{self.tail()}"

    async def stop(self) -> int:
        """SIGTERM; the exit status."""
        if self.proc is None:
            return 0
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        return await self._ended()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.lines[-lines:])


class Till(Service):
    """``tillgw run`` for one register; ``up`` is set while its API answers."""

    def __init__(
        self,
        register: str,
        directory: Path,
        unit_url: str,
        broker_url: str,
        *,
        orgnr: str = ORGNR,
        store: str = STORE,
        mqtt: str = "",
        name: str = "",
    ) -> None:
        """``mqtt``: more lines of its ``[mqtt]`` (a user, ``sync_public_key``); ``name`` in the
        test's words (default: the register)."""
        self.register = register
        self.orgnr = orgnr
        self.store = store
        self.config = directory / f"{register}.toml"
        self.data_dir = directory / register
        self.unit_url = unit_url
        self.broker_url = broker_url
        self.mqtt = mqtt
        self.port = 0
        self.moves = 0  # times another program took the API's port while the till was down
        self.generation = 0  # starts that reached the API
        self.up = asyncio.Event()
        self.listen_elsewhere()
        super().__init__(name or register, "run", "--config", str(self.config))

    def listen_elsewhere(self) -> None:
        self.port = free_port()
        self.config.write_text(
            f"""\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "{self.orgnr}"
address = ["Storgatan 1", "352 30 Växjö"]
store = "{self.store}"
language = "en"  # the till's words in English, as these tests read them

[register]
pos_id = "{self.register}"
data_dir = "{self.data_dir}"

[control_unit]
url = "{self.unit_url}"

[api]
listen = "127.0.0.1:{self.port}"

[mqtt]
url = "{self.broker_url}"
{self.mqtt}""",
            encoding="utf-8",
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        token = (self.data_dir / "api-token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    @property
    def database(self) -> Path:
        return self.data_dir / "till.db"

    async def start(self) -> None:
        """Start it and return once its API answers (its first line says so)."""
        while True:
            before = len(self.lines)
            proc = await self.spawn()
            assert proc.stdout is not None
            first = await proc.stdout.readline()
            if first.startswith(b"tillgw: API on "):
                self.read_rest(proc.stdout)
                self.generation += 1
                self.up.set()
                return
            code = await self._ended()
            taken = any("address already in use" in ln for ln in self.lines[before:])
            if code == 1 and taken and self.moves < 5:
                self.moves += 1  # not the till's fault: start it again on another port
                self.listen_elsewhere()
                continue
            raise AssertionError(f"{self.name} did not start ({code}, {first!r}):\n{self.tail()}")

    async def kill(self) -> None:
        self.up.clear()
        await super().kill()

    async def stop(self) -> int:
        self.up.clear()
        return await super().stop()

    async def status(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(f"{self.api}/v1/status", headers=self.headers) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer


class Sync(Service):
    def __init__(
        self,
        directory: Path,
        broker_url: str,
        *,
        registers: tuple[str, ...] = REGISTERS,
        client_id: str = "tillgw-sync-e2e",
        retry_interval: int = 5,
        more: str = "",
        orgnr: str = ORGNR,
        store: str = STORE,
        stores: tuple[str, ...] = (),
        mqtt: str = "",
        name: str = "sync",
    ) -> None:
        """``tillgw sync`` with its sync.toml in ``directory``, for ``registers`` of ``orgnr/store``
        and the ``stores`` (``"orgnr/store"``); ``mqtt`` adds to ``[mqtt]``, ``more`` ends the file."""
        self.config = directory / "sync.toml"
        self.base = directory / "sync"
        self.client_id = client_id
        self.write_config(
            broker_url,
            registers=tuple(f"{orgnr}/{store}/{r}" for r in registers),
            stores=stores,
            client_id=client_id,
            retry_interval=retry_interval,
            more=more,
            mqtt=mqtt,
        )
        self.connected = asyncio.Event()  # set while the module says it is connected (and subscribed)
        super().__init__(name, "sync", "--config", str(self.config))

    def write_config(
        self,
        broker_url: str,
        *,
        registers: tuple[str, ...],
        stores: tuple[str, ...],
        client_id: str,
        retry_interval: int,
        more: str = "",
        mqtt: str = "",
    ) -> None:
        """sync.toml: only ``[mqtt]`` and ``[sync]`` (``registers`` as ``"orgnr/store/register"``)."""
        served = ""
        if registers:
            served += f"registers = {json.dumps(list(registers))}\n"  # a TOML array of strings too
        if stores:
            served += f"stores = {json.dumps(list(stores))}\n"
        self.config.write_text(
            f"""\
[mqtt]
url = "{broker_url}"
{mqtt}
[sync]
inbox = "{self.base / "inbox.db"}"
sie_dir = "{self.base / "sie"}"
log_dir = "{self.base / "logs"}"
{served}client_id = "{client_id}"
retry_interval = {retry_interval}
{more}""",
            encoding="utf-8",
        )

    async def start(self) -> None:
        self.connected.clear()
        proc = await self.spawn()
        assert proc.stdout is not None
        self.read_rest(proc.stdout)

    def seen(self, line: str) -> None:
        if "MQTT: connected" in line:  # "connected to" or "connected again to"
            self.connected.set()
        elif "MQTT: no connection" in line:
            self.connected.clear()


# -- the schedule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    at: int  # its place in the stream: receipts answered before it (both tills together) …
    what: str  # broker-stop | broker-start | till-kill | sync-kill | sync-start
    how: str = ""  # broker-stop: sigterm | sigkill; till-kill: the till (store/register); sync-…: the store
    gap: int = 0  # … counted as this many receipts after the previous action is done


def chaos_schedule(rng: random.Random, rounds: int) -> list[Action]:
    """``rounds`` failures of each kind, shuffled; a broker or sync outage may span others."""
    kinds = ["broker", "till", "sync", "till", "sync"] * rounds  # each store its own till and sync faults
    rng.shuffle(kinds)
    # Both ways of stopping the broker, the stores, and the first store's two tills take turns.
    stops = ("sigterm", "sigkill")[:: rng.choice((1, -1))]
    first = [f"{STORE}/{r}" for r in REGISTERS[:: rng.choice((1, -1))]]
    victims = [v for pair in zip(first, [f"{SECOND}/KASSA-1"] * 2, strict=True) for v in pair]
    syncs = list(STORES)[:: rng.choice((1, -1))]
    actions: list[Action] = []
    at = broker_back = 0
    sync_back = dict.fromkeys(STORES, 0)
    for kind in kinds:
        at += rng.randint(30, 90)
        if kind == "broker":
            at = max(at, broker_back + 1)
            broker_back = at + rng.randint(20, 80)
            how = stops[sum(a.what == "broker-stop" for a in actions) % 2]
            actions += [Action(at, "broker-stop", how), Action(broker_back, "broker-start")]
        elif kind == "till":
            actions.append(Action(at, "till-kill", victims[sum(a.what == "till-kill" for a in actions) % 4]))
        else:
            store = syncs[sum(a.what == "sync-kill" for a in actions) % 2]
            at = max(at, sync_back[store] + 1)
            sync_back[store] = at + rng.choice((0, 0, rng.randint(10, 50)))
            actions += [Action(at, "sync-kill", store), Action(sync_back[store], "sync-start", store)]
    actions.sort(key=lambda a: a.at)  # stable: a start at the same count follows its stop
    # Each action waits for its receipts after the one before it is done: a till's restart
    # takes a second or two, while the other till sells on, and the actions after it must
    # not all come at once.
    return [
        Action(a.at, a.what, a.how, a.at - (actions[i - 1].at if i else 0)) for i, a in enumerate(actions)
    ]


# -- the POS ----------------------------------------------------------------------------------


class Progress:
    """Receipts answered so far, both tills together; the failures wait for counts of it."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Condition()

    async def add(self) -> None:
        async with self._changed:
            self.count += 1
            self._changed.notify_all()

    async def reached(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.count >= count)


class TillGone(Exception):
    pass


@dataclass
class Pos:
    register: str
    rng: random.Random
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # in order of first post
    numbers: dict[str, set[int]] = field(default_factory=dict)  # id -> every receipt number answered
    unanswered: dict[str, None] = field(default_factory=dict)
    first_posted: dict[str, float] = field(default_factory=dict)  # id -> when it was first posted
    unexpected: list[str] = field(default_factory=list)
    z_made: list[int] = field(default_factory=list)
    z_lost: int = 0  # Z requests cut off by a kill (made or not: the database says)
    posts: int = 0
    lost: int = 0  # receipt requests cut off by a kill

    async def request(
        self, session: aiohttp.ClientSession, till: Till, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        generation = till.generation
        try:
            async with session.post(f"{till.api}{path}", json=body, headers=till.headers) as response:
                answer: dict[str, Any] = await response.json()
                return response.status, answer
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            if till.up.is_set() and till.generation == generation:
                raise AssertionError(f"{till.name} died unkilled: {exc}\n{till.tail()}") from None
            raise TillGone(str(exc)) from None

    async def receipt(self, session: aiohttp.ClientSession, till: Till, request_id: str) -> bool:
        """Post one receipt; True when it was answered the first time."""
        self.posts += 1
        self.first_posted.setdefault(request_id, time.monotonic())
        try:
            status, answer = await self.request(session, till, "/v1/receipts", self.bodies[request_id])
        except TillGone:
            self.lost += 1
            raise
        if status not in (200, 201):
            self.unexpected.append(f"{request_id}: {status} {answer}")
            self.unanswered.pop(request_id, None)  # not posted again: the test fails on it
            return False
        first = request_id not in self.numbers
        self.numbers.setdefault(request_id, set()).add(int(answer["receipt_no"]))
        self.unanswered.pop(request_id, None)
        return first

    async def z_report(self, session: aiohttp.ClientSession, till: Till) -> None:
        try:
            status, answer = await self.request(session, till, "/v1/reports/z", None)
        except TillGone:
            self.z_lost += 1
            raise
        if status != 201:
            self.unexpected.append(f"Z: {status} {answer}")
            return
        self.z_made.append(int(answer["z_no"]))

    async def run(self, till: Till, progress: Progress, finishing: asyncio.Event) -> None:
        """Sell until ``finishing``: the unanswered first, a Z now and then; then a last Z."""
        counter = 0
        since_z, next_z = 0, self.rng.randint(20, 60)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with contextlib.AsyncExitStack() as stack:
            session, generation = None, 0
            while True:
                await till.up.wait()
                if session is None or generation != till.generation:
                    # A new session for each start of the till: no connection kept from the last one.
                    if session is not None:
                        await session.close()
                    session = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
                    generation = till.generation
                try:
                    if self.unanswered:
                        if await self.receipt(session, till, next(iter(self.unanswered))):
                            await progress.add()
                    elif finishing.is_set():
                        await self.z_report(session, till)
                        return
                    elif since_z >= next_z:
                        since_z, next_z = 0, self.rng.randint(20, 60)
                        await self.z_report(session, till)
                    else:
                        counter += 1
                        request_id = f"{self.register}-{counter}"
                        self.bodies[request_id] = receipt_body(request_id)
                        self.unanswered[request_id] = None
                        if await self.receipt(session, till, request_id):
                            since_z += 1
                            await progress.add()
                except TillGone:
                    continue


# -- the run ----------------------------------------------------------------------------------


@dataclass
class World:
    broker: Broker
    tills: dict[str, Till]  # by "store/register"
    syncs: dict[str, Sync]  # by store
    poses: dict[str, Pos]
    progress: Progress
    session: aiohttp.ClientSession
    done: list[str] = field(default_factory=list)  # what happened, in order
    broker_stopped_at: float = 0.0
    outage_depths: list[tuple[str, int, int]] = field(default_factory=list)  # (register, posted since, depth)

    def note(self, text: str) -> None:
        now = time.strftime("%H:%M:%S")
        self.done.append(f"{now} {self.progress.count:5d} receipts: {text}")

    async def act(self, action: Action) -> None:
        if action.what == "broker-stop":
            await (self.broker.stop() if action.how == "sigterm" else self.broker.kill())
            self.broker_stopped_at = time.monotonic()  # gone: from now on no ack can come
            self.note(f"broker stopped ({action.how})")
        elif action.what == "broker-start":
            for name, till in self.tills.items():
                # Sales went on: each receipt first posted since the stop, and answered, waits in
                # the till's outbox (its commit came after the stop, so no ack can have come).
                status = await till.status(self.session)
                pos = self.poses[name]
                since = sum(pos.first_posted[i] > self.broker_stopped_at for i in pos.numbers)
                bus = status["bus"]
                self.outage_depths.append((name, since, bus["depth"]))
                assert bus["depth"] >= since, f"{name}: {bus} with {since} receipts since the stop"
                assert since == 0 or bus["oldest_unacked_age_s"] is not None, bus
            await self.broker.start()
            self.note("broker started")
        elif action.what == "till-kill":
            till = self.tills[action.how]
            await till.kill()
            self.note(f"{till.name} killed")
            await till.start()
            self.note(f"{till.name} started")
        elif action.what == "sync-kill":
            await self.syncs[action.how].kill()
            self.note(f"{self.syncs[action.how].name} killed")
        elif action.what == "sync-start":
            await self.syncs[action.how].start()
            self.note(f"{self.syncs[action.how].name} started")
        else:  # pragma: no cover
            raise AssertionError(action)


async def until(check: Callable[[], Awaitable[str | None]], deadline: float) -> None:
    """Wait until ``check()`` says nothing is missing (None), polling; fail after ``deadline`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while (missing := await check()) is not None:
        if loop.time() > end:
            raise AssertionError(f"not drained after {deadline:.0f} s: {missing}")
        await asyncio.sleep(0.25)  # the interval between two looks at the condition


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a SQLite database another process may be writing (read-only, WAL)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


async def drained(world: World) -> str | None:
    """None when every till's outbox is empty and the inbox has processed all of it.

    The POS has finished, so no message is added. A till's outbox is read before the inbox:
    what a till has as acked must then already be in the inbox (stored, then acked), so an
    empty outbox with messages missing from the inbox fails at once, without the deadline.
    """
    outboxes: dict[str, tuple[int, dict[str, Any]]] = {}
    for name, till in world.tills.items():
        bus = (await till.status(world.session))["bus"]
        [(total,)] = read_db(till.database, "SELECT COUNT(*) FROM outbox")
        outboxes[name] = (int(total), bus)
    counts: dict[str, tuple[int, int]] = {}  # by "store/register", from each store's own inbox
    for store, sync in world.syncs.items():
        inbox = sync.base / "inbox.db"
        if inbox.exists():
            for register, n, processed in read_db(
                inbox,
                "SELECT register, COUNT(*), COUNT(processed_at) FROM inbox WHERE store = ? GROUP BY register",
                (store,),
            ):
                counts[f"{store}/{register}"] = (int(n), int(processed))
    for name, (total, bus) in outboxes.items():
        inbox_n, processed = counts.get(name, (0, 0))
        assert bus["depth"] or inbox_n == total, (
            f"{name}: every one of {total} messages acked, but its store's inbox holds {inbox_n}"
        )
        if bus["depth"] or inbox_n != total or processed != total:
            return (
                f"{name}: outbox {total} messages, {bus['depth']} unacked ({bus['reason']}); "
                f"inbox {inbox_n}, processed {processed}"
            )
    return None


async def chaos_run(tmp_path: Path) -> tuple[World, list[Action], float]:
    t0 = time.monotonic()
    rng = random.Random(SEED)
    plan = chaos_schedule(rng, ROUNDS)
    broker_port = free_port()
    data = tmp_path / "mosquitto" / "data"
    broker = Broker(
        tmp_path / "mosquitto",
        f"listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {data}/\nmax_queued_messages 100000\n",
        port=broker_port,
    )
    # Each store its control unit (both have a KASSA-1), its tills and its own sync module.
    units: list[Service] = []
    tills: dict[str, Till] = {}
    syncs: dict[str, Sync] = {}
    for store, registers in STORES.items():
        directory = tmp_path if store == STORE else tmp_path / store
        directory.mkdir(exist_ok=True)
        unit = Service(
            f"control unit {store}",
            *("sim", "control-unit", "--listen", "tcp://127.0.0.1:0", "--data-dir", str(directory / "unit")),
            *("--licences", str(len(registers))),
        )
        units.append(unit)
        unit_proc = await unit.spawn()
        assert unit_proc.stdout is not None
        unit_url = (await unit_proc.stdout.readline()).decode().strip()
        assert unit_url.startswith("socket://"), f"{unit_url!r}\n{unit.tail()}"
        for r in registers:
            name = f"{store}/{r}"
            tills[name] = Till(r, directory, unit_url, broker.url, store=store, name=name)
        if store == STORE:
            syncs[store] = Sync(directory, broker.url)  # the registers listed
        else:
            syncs[store] = Sync(
                directory,
                broker.url,
                registers=(),
                store=store,
                stores=(f"{ORGNR}/{store}",),
                client_id=f"tillgw-sync-e2e-{store}",
                name=f"sync {store}",
            )
    poses = {name: Pos(till.register, random.Random(f"{SEED}:{name}")) for name, till in tills.items()}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(force_close=True)  # tills come and go: no connection is kept
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        world = World(broker, tills, syncs, poses, Progress(), session)
        try:
            await broker.start()
            for sync in syncs.values():
                await sync.start()
                await sync.connected.wait()  # its session exists: the broker queues for it from now on
            for till in tills.values():
                await till.start()
            finishing = asyncio.Event()
            selling = [
                asyncio.create_task(poses[name].run(till, world.progress, finishing))
                for name, till in tills.items()
            ]
            try:
                for action in plan:
                    if action.what == "sync-kill" and broker.running:
                        # Killed while it takes messages, not while it starts: once it says it is
                        # connected, the action's receipts are counted.
                        await syncs[action.how].connected.wait()
                    await world.progress.reached(world.progress.count + action.gap)
                    await world.act(action)
                await world.progress.reached(world.progress.count + TAIL)
                finishing.set()
                await asyncio.gather(*selling)
            finally:
                for task in selling:
                    task.cancel()
                await asyncio.gather(*selling, return_exceptions=True)
            world.note("the POS has finished; waiting for the bus to drain")
            await until(lambda: drained(world), DRAIN_DEADLINE)
            world.note("drained")
        except BaseException:
            for service in (*tills.values(), *syncs.values(), *units):
                print(f"--- {service.name}, the last of its output:\n{service.tail(60)}")
            print("--- what happened:", *world.done, sep="\n")
            raise
        finally:
            codes = {t.name: await t.stop() for t in tills.values()}
            sync_codes = {s.name: await s.stop() for s in syncs.values()}
            await broker.stop()
            for unit in units:
                await unit.stop()
            # Kept for a post-mortem: every process's output over all its runs.
            for name, lines in [(s.name, s.lines) for s in (*tills.values(), *syncs.values(), *units)] + [
                ("mosquitto", broker.log)
            ]:
                log = tmp_path / f"{name.replace(' ', '-').replace('/', '-')}.log"
                log.write_text("\n".join(lines), encoding="utf-8")
    assert set(codes.values()) == {0}, f"a till did not stop cleanly: {codes}"
    for sync in syncs.values():
        assert sync_codes[sync.name] in (0, 1), (
            f"{sync.name} ended with {sync_codes[sync.name]}:\n{sync.tail()}"
        )
    return world, plan, time.monotonic() - t0


# -- the checks -------------------------------------------------------------------------------


def voucher_amounts(doc: Any) -> tuple[int, int]:
    """(debits on the means-of-payment accounts, the rest) of a file's one voucher, in öre."""
    [voucher] = doc.vouchers
    paid = sum(amount for account, amount, _ in voucher.rows if account in PAYMENT_ACCOUNTS)
    rest = sum(amount for account, amount, _ in voucher.rows if account not in PAYMENT_ACCOUNTS)
    return paid, rest


def check_register(till: Till, sync: Sync, pos: Pos) -> dict[str, int]:
    """Every check of one register's messages in its store's inbox; returns counts for the summary."""
    register, store = till.name, till.store
    inbox = sync.base / "inbox.db"
    outbox = read_db(
        till.database,
        "SELECT sequence, msg_id, message, journal_entry, sends, acked_at, ack_status FROM outbox "
        "ORDER BY sequence",
    )
    n = len(outbox)
    assert [row[0] for row in outbox] == list(range(1, n + 1)), f"{register}: outbox sequences have a gap"
    assert all(row[5] is not None and row[6] == "stored" for row in outbox), f"{register}: not all acked"
    received = read_db(
        inbox,
        "SELECT sequence, msg_id, message, kind, processed_at FROM inbox "
        "WHERE orgnr = ? AND store = ? AND register = ? ORDER BY sequence",
        (ORGNR, store, till.register),
    )
    # Exactly once, byte for byte, in sequence 1..N.
    assert [r[1] for r in received] == [r[1] for r in outbox], f"{register}: the inbox's msg_ids differ"
    assert len({r[1] for r in received}) == n
    assert [r[0] for r in received] == list(range(1, n + 1))
    assert all(bytes(a[2]) == bytes(b[2]) for a, b in zip(outbox, received, strict=True))
    # Processed in order: processed_at never goes back as the sequence goes up.
    stamps = [r[4] for r in received]
    assert None not in stamps, f"{register}: messages not processed"
    assert stamps == sorted(stamps), f"{register}: processed out of sequence order"

    # Every receipt the POS posted: one number, and one message on the bus.
    assert not pos.unexpected, pos.unexpected
    assert not pos.unanswered, f"{register}: unanswered {list(pos.unanswered)[:5]}"
    numbers = {request_id: got for request_id, got in pos.numbers.items()}
    assert all(len(got) == 1 for got in numbers.values()), f"{register}: an id got two numbers"
    receipts = read_db(
        till.database,
        "SELECT entry_seq, request_id, receipt_no, cash + card + gift_card + swish + other FROM receipts "
        "WHERE kind = 'normal' ORDER BY entry_seq",
    )
    assert {r[1] for r in receipts} == set(pos.bodies), f"{register}: the receipts are not the ids posted"
    assert {r[1]: {r[2]} for r in receipts} == numbers
    messages = [json.loads(bytes(row[2])) for row in outbox]
    on_bus = [m["journal_entry"] for m in messages if m["kind"] == "receipt"]
    assert sorted(on_bus) == [r[0] for r in receipts], f"{register}: a receipt without its message"

    # Every Z report: one sie_files row, one file, one balanced voucher with the period's takings.
    zs = [m for m in messages if m["kind"] == "report.z"]
    assert [m["payload"]["z_no"] for m in zs] == list(range(1, len(zs) + 1))
    assert set(pos.z_made) <= {m["payload"]["z_no"] for m in zs}
    files = read_db(
        inbox,
        "SELECT z_no, msg_id, file FROM sie_files WHERE orgnr = ? AND store = ? AND register = ? "
        "ORDER BY z_no",
        (ORGNR, store, till.register),
    )
    # A Z of a period without a sale books nothing (SIE has no voucher without rows): a Z made
    # right after another one, as the chaos sometimes has it, has no file.
    booked = [z for z in zs if any(_in_period(z, r[0]) for r in receipts)]
    assert [(f[0], f[1]) for f in files] == [(m["payload"]["z_no"], m["msg_id"]) for m in booked]
    on_disk = sorted(p.name for p in (sync.base / "sie").glob(f"{ORGNR}-{store}-{till.register}-Z*.si"))
    assert on_disk == sorted(f[2] for f in files), f"{register}: SIE files {on_disk} are not {files}"
    for z, (_, _, name) in zip(booked, files, strict=True):
        doc = read_sie((sync.base / "sie" / name).read_bytes())  # balances, or AssertionError
        [voucher] = doc.vouchers
        assert voucher.text == f"Z-dagrapport {z['payload']['z_no']} kassa {till.register}"
        took = sum(r[3] for r in receipts if _in_period(z, r[0]))
        paid, rest = voucher_amounts(doc)
        assert (paid, rest) == (took, -took), f"{name}: the voucher books {paid}, the receipts took {took}"
    return {
        "messages": n,
        "receipts": len(receipts),
        "z": len(zs),
        "sends": sum(int(row[4]) for row in outbox),
    }


def _in_period(z: dict[str, Any], entry: int) -> bool:
    """Whether the journal entry ``entry`` is in the period of the Z report message ``z``."""
    period = z["payload"]["period"]
    return bool(period["after_entry"] < entry <= period["through_entry"])


PROCESSED = re.compile(r"^INFO \S+ processed (\S+) (\d+)(?:-(\d+))?: ")


def check_sync_log(sync: Sync) -> dict[str, int]:
    """No message processed twice (the ``processed`` ranges never overlap); no ERROR but outages."""
    logs = sorted((sync.base / "logs").glob("sync-*.log"))
    lines = [ln for path in logs for ln in path.read_text(encoding="utf-8").splitlines()]
    last: dict[str, int] = {}
    for ln in lines:
        m = PROCESSED.match(ln)
        if m:
            register = m.group(1)
            first, end = int(m.group(2)), int(m.group(3) or m.group(2))
            assert first > last.get(register, 0), f"processed twice: {ln!r} after {last.get(register)}"
            last[register] = end
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    assert all("MQTT: no connection to" in ln for ln in errors), errors
    assert not [ln for ln in lines if "set aside a message" in ln]
    return {
        "runs": sum(ln.startswith("=== run started") for ln in lines),
        "acked again": sum("already stored, acked again" in ln for ln in lines),
        "waited": sum("waiting for message" in ln for ln in lines),
    }


@pytest.mark.soak
@pytest.mark.timeout(300)  # a hang guard; the test takes about 30 s
async def test_the_bus_loses_and_doubles_nothing_when_everything_is_killed(tmp_path: Path) -> None:
    world, plan, seconds = await chaos_run(tmp_path)
    counts: dict[str, dict[str, int]] = {}
    logs: dict[str, dict[str, int]] = {}
    leftovers = 0
    for store, sync in world.syncs.items():
        inbox = sync.base / "inbox.db"
        assert read_db(inbox, "SELECT reason FROM rejected") == []
        for name, till in world.tills.items():
            if till.store == store:
                counts[name] = check_register(till, sync, world.poses[name])
        # Each store's module has its own store's registers, and nothing of the other store.
        assert set(read_db(inbox, "SELECT DISTINCT store, register FROM inbox")) == {
            (store, r) for r in STORES[store]
        }
        assert {p.name.split("-")[1] for p in (sync.base / "sie").glob("*.si")} == {store}
        logs[store] = check_sync_log(sync)
        leftovers += len(list((sync.base / "sie").glob(".*.tmp")))

    kinds = [a.what for a in plan]
    print(
        f"\nseed {SEED}: {kinds.count('broker-stop')} broker outages "
        f"({sum(a.how == 'sigkill' for a in plan)} by SIGKILL), {kinds.count('till-kill')} tills killed, "
        f"{kinds.count('sync-kill')} sync kills; "
        + "; ".join(
            f"{r}: {c['receipts']} receipts, {c['z']} Z reports, {c['messages']} messages sent "
            f"{c['sends']} times, {world.poses[r].lost} requests and {world.poses[r].z_lost} Z requests "
            "cut off"
            for r, c in counts.items()
        )
        + "; "
        + "; ".join(
            f"sync {store}: {log['runs']} runs, {log['acked again']} batches acked again, "
            f"{log['waited']} waits for a gap"
            for store, log in logs.items()
        )
        + f"; outbox depth at the broker's return {[(r, d) for r, _, d in world.outage_depths]}; "
        f"{leftovers} temporary SIE files left; {seconds:.0f} s"
    )
    print(*world.done, sep="\n")
