"""A running till: its devices, its database, its receipt pipeline, assembled from a config.

:meth:`Till.open` is what ``tillgw run`` does before it serves the API: open (or create)
the signing key and the database under the data directory, open the control unit, the
printer and the barcode scanner, open the catalog (``catalog.db``, kept up to date from the bus when there
is one), reconcile what a crash left, and make the API token. In the demo (no
config) it first has :mod:`gateway.demo` start the project's simulated control unit and
printer on pseudo-terminals in their place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway import demo
from gateway.bus.outbox import Outbox
from gateway.bus.publisher import Publisher, PublisherSettings
from gateway.catalog.orders import OrderQueries
from gateway.catalog.store import Catalog
from gateway.catalog.subscriber import CatalogSubscriber
from gateway.common.clock import Clock, zone_mismatch
from gateway.common.i18n import tr, use_language
from gateway.common.signing import Signer
from gateway.config import Config, ScannerConfig
from gateway.devices.control_units.interface import ControlUnit, ControlUnitError
from gateway.devices.control_units.kinds import open_unit
from gateway.devices.printer.drawer import Drawer
from gateway.devices.printer.driver import PrinterDriver
from gateway.devices.printer.job import Outcome
from gateway.devices.scanner.driver import ScannerDriver
from gateway.devices.scanner.opener import open_scanner
from gateway.devices.scanner.serial_line import SerialScannerConfig
from gateway.fiscal.bodies import ReceiptBody
from gateway.fiscal.index_check import IndexMismatch, check_index
from gateway.fiscal.journal import Entry
from gateway.fiscal.outages import OutageWatch
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.request_answers import AnswerKeeper
from gateway.fiscal.start_checks import (
    RESTORE,
    DataDirLock,
    StartRefused,
    prepare_data_dir,
    read_journal_state,
    record_series,
    recorded_series,
    refuse_new_series,
    secure_modes,
    signer_for,
)
from gateway.fiscal.storage import Storage
from gateway.fiscal.store import Store
from gateway.messages.ack_proof import AckSigner, AckVerifier, SigningKeyError, load_ack_verifier
from gateway.messages.catalog import CatalogTopics
from gateway.messages.envelope import Topics
from gateway.messages.orders import OrderTopics
from gateway.mqtt.broker import EmbeddedBroker, start_embedded_if_needed
from gateway.registration.check import RegistrationState, check_at_start
from gateway.till_files import TillFiles
from protocols.escpos import CodeTable, DrawerPin

__all__ = ["DeviceError", "Till"]

log = logging.getLogger("tillgw.till")


class DeviceError(Exception):
    """A printer or drawer that did not do what was asked; ``str()`` says why in words."""


class PrinterWithDrawer:
    """The printer and its drawer as the pipeline uses them (``ReceiptPrinter``)."""

    def __init__(self, driver: PrinterDriver, drawer: Drawer) -> None:
        self.driver = driver
        self.drawer = drawer

    async def print_job(self, data: bytes) -> None:
        result = await self.driver.print(data)
        if result.outcome is not Outcome.PRINTED:
            raise DeviceError(result.reason)

    async def kick_drawer(self) -> None:
        result = await self.drawer.open_drawer()
        if not result.sent:
            raise DeviceError(result.reason)


def api_token(path: Path) -> str:
    """The bearer token of the local API: made on first start, mode 0600."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


class Till:
    def __init__(
        self,
        config: Config,
        files: TillFiles,
        store: Store,
        unit: ControlUnit,
        printer: PrinterWithDrawer | None,
        pipeline: Pipeline,
        token: str,
        stack: contextlib.AsyncExitStack,
        bus: Publisher | None = None,
        embedded_broker: EmbeddedBroker | None = None,
        *,
        catalog: Catalog,
        catalog_updates: CatalogSubscriber | None = None,
        orders: OrderQueries | None = None,
        registration: RegistrationState | None = None,
        outages: OutageWatch,
        scanner: ScannerDriver | None = None,
    ) -> None:
        self.config = config
        self.registration = registration  # the till against registration.json, as seen at start
        self.files = files
        self.store = store
        self.unit = unit
        self.printer = printer
        self.scanner = scanner  # [scanner]; None for a till without one
        self.pipeline = pipeline
        self.token = token
        self._stack = stack
        self.bus = bus  # the outbox's publisher; None for a till with no bus
        self.embedded_broker = embedded_broker  # the demo's in-process broker, if it started one
        self.catalog = catalog  # articles, barcodes, customers, stock (empty until the bus brings them)
        self.catalog_updates = catalog_updates  # what brings them; None for a till with no bus
        self.orders = orders  # asks the sync module for the ERP's open orders; None with no bus
        self.outages = outages  # journals the control unit's outages in opening hours
        self.storage = Storage(store, config.min_free_mib)  # the database's disk: free space, a full disk
        self.clock = store.clock  # the shop's time zone ([shop] timezone), whatever the computer's
        # The computer's zone keeps another time than the shop's (None when they agree).
        self.zone_warning = zone_mismatch(self.clock.zone, self.clock.instant())

    @classmethod
    async def open(cls, config: Config, clock: Clock | None = None) -> Till:
        """The till of ``config``; ``clock`` (default: now in ``[shop] timezone``) stamps what it records."""
        # A process runs one till: its reasons, outage words and page speak the till's language.
        use_language(config.shop.language)
        clock = clock if clock is not None else Clock(config.shop.timezone)
        warning = zone_mismatch(clock.zone, clock.instant())
        if warning is not None:
            log.warning("clock: %s", warning)
        files = TillFiles(config.data_dir)
        stack = contextlib.AsyncExitStack()
        try:
            # Before anything is opened: one till per data directory, private files, a
            # readable database, the key that signed it, no series begun anew.
            prepare_data_dir(files.data_dir)
            lock = DataDirLock(files.lock)
            lock.acquire()
            stack.callback(lock.release)
            secure_modes(files.data_dir)
            state = read_journal_state(files.database)
            refuse_new_series(files.database, files.series, state)
            signer = signer_for(files.signing_key, state)
            unit_url, printer_url = config.control_unit.url, config.printer.url if config.printer else None
            if config.demo:
                unit_url, printer_url = await demo.start_devices(stack, files)
            store = await _open_store(files, signer, clock)
            stack.push_async_callback(store.close)
            assert unit_url is not None
            unit = open_unit(
                config.control_unit,
                config.pos_id,
                orgnr=config.shop.orgnr,
                address=", ".join(config.shop.address),
                url=unit_url,
                zone=clock.zone,
                watch_interval=30.0,
            )
            stack.push_async_callback(unit.close)
            with contextlib.suppress(ControlUnitError):
                await unit.start()  # a dead unit does not stop the till: its state says why
            printer = None
            if config.printer is not None and printer_url is not None:
                driver = PrinterDriver(printer_url, watch_interval=30.0)
                stack.push_async_callback(driver.close)
                await driver.start()
                drawer = Drawer(
                    driver,
                    pin=DrawerPin.PIN2 if config.printer.drawer_pin == 2 else DrawerPin.PIN5,
                    on_ms=config.printer.pulse_ms,
                    open_level=config.printer.drawer_open_level,
                )
                printer = PrinterWithDrawer(driver, drawer)
            scanner = None
            if config.scanner is not None:
                scanner = _scanner(config.scanner)
                stack.push_async_callback(scanner.close)
                scanner.start()  # a scanner that is not there does not stop the till: its state says why
            shop = Shop(config.shop.name, config.shop.orgnr, config.shop.address)
            pipeline = Pipeline(
                store,
                unit,
                shop,
                config.pos_id,
                printer=printer,
                paper_width=config.paper_width,
                code_table=config.printer.code_table if config.printer else CodeTable.CP858,
            )
            stack.push_async_callback(pipeline.close)
            try:
                catalog = await Catalog.open(files.catalog, clock)
            except sqlite3.Error as exc:
                raise StartRefused(
                    tr(
                        "the catalog {catalog} cannot be opened ({exc}): move it aside and start "
                        "again (the till fetches its articles anew from the bus)"
                    ).format(catalog=files.catalog, exc=exc)
                ) from None
            stack.push_async_callback(catalog.close)
            secure_modes(files.data_dir, announce=False)  # the files just made
            if catalog.created:
                await _number_customers_after_journal(store, catalog)
            bus, embedded, updates, orders = None, None, None, None
            if config.mqtt is not None:
                # The outbox before the pipeline starts: what reconciliation journals goes on the bus too.
                topics = Topics(config.shop.orgnr, config.shop.store, config.pos_id)
                outbox = Outbox(store, topics)
                await outbox.install()
                embedded = await start_embedded_if_needed(config.mqtt)
                if embedded is not None:
                    stack.push_async_callback(embedded.close)
                bus = Publisher(
                    outbox,
                    topics,
                    config.mqtt,
                    settings=PublisherSettings(window=config.mqtt.in_flight),
                    verifier=_ack_verifier(config, files),
                )
                if bus.verifier is None:
                    log.warning("bus: %s", bus.acks_note)
                else:
                    log.info("bus: %s", bus.acks_note)
                stack.push_async_callback(bus.close)  # closed before the broker and the store
                await bus.start()
                updates = CatalogSubscriber(
                    catalog, CatalogTopics(config.shop.orgnr, config.shop.store), config.pos_id, config.mqtt
                )
                stack.push_async_callback(updates.close)  # closed before the broker and the catalog
                await updates.start()
                orders = OrderQueries(
                    OrderTopics(config.shop.orgnr, config.shop.store), config.pos_id, config.mqtt
                )
                stack.push_async_callback(orders.close)  # closed before the broker
                await orders.start()
            await pipeline.start()
            unit_id = unit.unit_identity.unit_id if unit.unit_identity is not None else None
            registration = await check_at_start(config, unit_id, store, pipeline, today=clock.today())
            outages = OutageWatch(
                store,
                unit,
                config.pos_id,
                after=timedelta(minutes=config.outage_after_minutes),
                hours=config.opening_hours,
            )
            stack.push_async_callback(outages.close)  # before the store closes
            await outages.start()
            answers = AnswerKeeper(store, config.api.keep_request_answers_days)
            stack.push_async_callback(answers.close)  # before the store closes
            await answers.start()
            token = api_token(files.api_token)
            await _keep_series_record(store, files)
        except BaseException:
            await stack.aclose()
            raise
        return cls(
            config,
            files,
            store,
            unit,
            printer,
            pipeline,
            token,
            stack,
            bus,
            embedded,
            catalog=catalog,
            registration=registration,
            catalog_updates=updates,
            orders=orders,
            outages=outages,
            scanner=scanner,
        )

    async def close(self) -> None:
        await self._stack.aclose()

    async def status(self) -> dict[str, Any]:
        """Every device's state in words, and what waits (``GET /v1/status``)."""
        devices: dict[str, Any] = {"control_unit": _unit_status(self.unit)}
        if self.printer is not None:
            driver = self.printer.driver
            devices["printer"] = {"url": driver.url, "state": driver.state.value, "reason": driver.reason}
        if self.scanner is not None:
            scanner = self.scanner
            devices["scanner"] = {"url": scanner.url, "state": scanner.state.value, "reason": scanner.reason}
        in_doubt = await self.store.fetchall(
            "SELECT d.pending_seq, json_extract(j.body, '$.receipt_no') "
            "FROM in_doubt d JOIN journal j ON j.seq = d.pending_seq"
        )
        unwritten = self.pipeline.unwritten  # answered by the unit, kept out of the journal by a full disk
        unprinted = await self.store.fetchone("SELECT COUNT(*) FROM unprinted")
        last = await self.store.fetchone("SELECT MAX(receipt_no) FROM receipts WHERE kind != 'kopia'")
        return {
            "register": self.config.pos_id,
            "shop": self.config.shop.name,
            # The shop's zone, which receipts and the journal use; a warning when the computer keeps another.
            "time_zone": {"shop": self.clock.zone_name, "warning": self.zone_warning},
            "devices": devices,
            # The disk the journal is on: free space against [register] min_free_mib, a full disk.
            "storage": self.storage.status(),
            # Registered with Skatteverket, and whether the till still matches (report_by when not).
            "registration": None if self.registration is None else self.registration.to_json(),
            # The control unit unusable too long in opening hours: a fault report is owed.
            "outage": self.outages.status(),
            "receipts": {
                "last_number": None if last is None or last[0] is None else int(last[0]),
                "waiting_for_control_unit": [int(r[1]) for r in in_doubt if int(r[0]) not in unwritten],
                "waiting_for_disk_space": [int(r[1]) for r in in_doubt if int(r[0]) in unwritten],
                "unprinted": 0 if unprinted is None else int(unprinted[0]),
            },
            # Messages for the sync module not yet acked, the oldest's age, the publisher in words.
            "bus": None if self.bus is None else (await self.bus.status()).to_json(),
            # The revision held and what it holds; how the updates from the sync module go.
            "catalog": {
                **self.catalog.state.to_json(),
                "updates": None if self.catalog_updates is None else self.catalog_updates.status(),
            },
            # The sync module's last pass or run as it published it; null: no bus, or none heard yet.
            "sync": _sync_status(self.catalog_updates),
        }


def _unit_status(unit: ControlUnit) -> dict[str, Any]:
    """The control unit as ``GET /v1/status`` shows it: never a credential (``url`` is
    the address without them), the unit's own status detail as it sent it."""
    identity, status = unit.unit_identity, unit.last_status
    return {
        "url": unit.url,
        "state": unit.state.value,
        "reason": unit.reason,
        "unit_id": identity.unit_id if identity else None,
        "protocol": identity.protocol_name if identity else None,
        "firmware": identity.firmware if identity else None,
        "line": identity.line or None if identity else None,  # the serial speed found
        "status_detail": status.detail or None if status else None,
    }


def _scanner(settings: ScannerConfig) -> ScannerDriver:
    """The driver of ``[scanner]``, not yet started; its framing applies to a serial or TCP
    scanner (a keyboard-wedge scanner ends each code with Enter)."""
    options: dict[str, Any] = {}
    if not settings.url.startswith("evdev:"):
        options["config"] = SerialScannerConfig(
            settings.terminator, settings.prefix.encode("utf-8"), settings.suffix.encode("utf-8")
        )
    try:
        return open_scanner(settings.url, **options)
    except ValueError as exc:
        raise StartRefused(f"[scanner]: {exc}") from None


async def _open_store(files: TillFiles, signer: Signer, clock: Clock) -> Store:
    """The database, its index checked against the journal: a start refused in one line otherwise."""
    try:
        store = await Store.open(files.database, signer, clock)
    except sqlite3.Error as exc:
        raise StartRefused(
            tr(
                "the till database {database} cannot be opened ({exc}): check that the disk has "
                "space and the file is the till's; otherwise restore it from your backup ({restore})"
            ).format(database=files.database, exc=exc, restore=RESTORE)
        ) from None
    secure_modes(files.data_dir, announce=False)
    try:
        await store.run(lambda: check_index(store.conn))
    except IndexMismatch as exc:
        await store.close()
        raise StartRefused(f"{files.database}: {exc}") from None
    return store


async def _keep_series_record(store: Store, files: TillFiles) -> None:
    """``series.json`` now, and again after every receipt (the start's evidence that the
    register has sold, should the database be lost)."""
    row = await store.fetchone(
        "SELECT (SELECT COALESCE(MAX(receipt_no), 0) FROM receipts WHERE kind != 'kopia'), "
        "(SELECT COALESCE(MAX(seq), 0) FROM journal)"
    )
    assert row is not None
    record_series(files.series, int(row[0]), int(row[1]))

    def after_commit(entries: list[Entry]) -> None:
        receipts = [e for e in entries if e.kind == "receipt"]
        if receipts:
            last = max(e.body_as(ReceiptBody).receipt_no for e in receipts)
            with contextlib.suppress(OSError):  # a full disk is the database's to report
                record_series(files.series, max(last, recorded_series(files.series)), entries[-1].seq)

    store.commit_listeners.append(after_commit)


def _ack_verifier(config: Config, files: TillFiles) -> AckVerifier | None:
    """The sync module's public key from ``[mqtt] sync_public_key``; the demo wires its own
    sync module's key (made here when missing, where that module will find it)."""
    assert config.mqtt is not None
    if config.mqtt.sync_public_key is not None:
        try:
            return load_ack_verifier(config.mqtt.sync_public_key)
        except SigningKeyError as exc:
            raise SigningKeyError(
                f"[mqtt].sync_public_key: {exc} — it must be the PEM that tillgw sync --export-key prints"
            ) from None
    if config.demo:
        return AckSigner.of_inbox(demo.sync_inbox(files)).verifier()
    return None


def _sync_status(updates: CatalogSubscriber | None) -> dict[str, Any] | None:
    status = None if updates is None else updates.sync_status
    return None if status is None else status.to_json()


async def _number_customers_after_journal(store: Store, catalog: Catalog) -> None:
    """A new catalog file (a first start, or one deleted to fetch it again) numbers the till's own
    customers after every ``customer.change`` the journal holds, so that no provisional number
    given before is given again."""
    row = await store.fetchone("SELECT COUNT(*) FROM journal WHERE kind = 'customer.change'")
    if row is not None and int(row[0]) > 0:
        await catalog.count_provisional_from(int(row[0]))
