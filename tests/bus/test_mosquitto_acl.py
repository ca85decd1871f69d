"""docs/mosquitto.md for real: Mosquitto started with the page's own configuration and ACL.

The blocks marked ``<!-- tested: … -->`` in the page are read from it, with the paths,
ports, the orgnr and the certificates of this test put in: what the page tells an
operator to write is what runs here. A denied message "never arrives" is shown without
waiting for a time: the forbidden message is published first, an allowed one after it
on the same connection, and Mosquitto delivers a client's messages in order — so if the
first message to arrive is the allowed one, the forbidden one was dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import re
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.common.health import DeviceState
from gateway.config import MqttConfig
from gateway.messages.envelope import Ack, decode_message

from .conftest import (
    DEADLINE,
    ORGNR,
    POS_ID,
    STORE,
    TOPICS,
    Mosquitto,
    PublisherFactory,
    TillParts,
    free_port,
    wait_state,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "mosquitto.md"
DOC_ORGNR = "5599000006"
SYNC_USER = "tillgw-sync"
PASSWORDS = {SYNC_USER: "sync-secret", POS_ID: "till-1-secret", "KASSA2": "till-2-secret", "+": "wild"}
BASE = f"tillgw/{ORGNR}/{STORE}"


def doc_block(name: str) -> str:
    """The fenced block after ``<!-- tested: name -->`` in docs/mosquitto.md."""
    match = re.search(rf"<!-- tested: {re.escape(name)} -->\n```[a-z]*\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, f"docs/mosquitto.md has no tested block {name!r}"
    return match.group(1)


@dataclass
class Pki:
    ca: Path
    other_ca: Path  # a CA that signed nothing of this broker's


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_pki(certs: Path) -> Pki:
    """The store's CA and the broker's certificate for 127.0.0.1, as the page's OpenSSL lines make."""
    certs.mkdir(parents=True)
    ca_key, ca_cert = make_ca("Test store MQTT CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (certs / "broker.crt").write_bytes(cert.public_bytes(pem))
    (certs / "broker.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (certs / "store-ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (certs / "other-ca.crt").write_bytes(make_ca("Someone else's CA")[1].public_bytes(pem))
    return Pki(certs / "store-ca.crt", certs / "other-ca.crt")


@dataclass
class StoreBroker:
    mosquitto: Mosquitto
    tls_port: int
    pki: Pki

    @property
    def port(self) -> int:
        return self.mosquitto.port

    def till_config(self, user: str = POS_ID, password: str | None = None, **changes: object) -> MqttConfig:
        options: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.tls_port,
            "tls": True,
            "ca_file": self.pki.ca,
            "username": user,
            "password": PASSWORDS[user] if password is None else password,
        }
        options.update(changes)
        return MqttConfig(**options)  # type: ignore[arg-type]


async def make_passwd(path: Path, users: dict[str, str]) -> None:
    """A Mosquitto password file, as the page's ``mosquitto_passwd`` lines make it."""
    for n, (user, password) in enumerate(users.items()):
        command = ["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(path), user, password]
        made = await asyncio.create_subprocess_exec(*command)
        assert await made.wait() == 0


def store_config(etc: Path, data: Path, port: int, tls_port: int, bridge: str = "") -> str:
    """The page's mosquitto.conf (and its ``bridge`` lines), with this test's paths and ports."""
    conf = doc_block("mosquitto.conf") + bridge
    for old, new in (
        ("/etc/mosquitto/", f"{etc}/"),
        ("/var/lib/mosquitto/", f"{data}/"),
        ("listener 8883\n", f"listener {tls_port} 127.0.0.1\n"),  # this test's traffic stays on loopback
        ("listener 1883 127.0.0.1\n", f"listener {port} 127.0.0.1\n"),
        ("log_dest syslog\n", ""),
    ):
        assert old in conf, old
        conf = conf.replace(old, new)
    return conf


@contextlib.asynccontextmanager
async def running_store_broker(
    root: Path, bridge: str = "", central_ca: Path | None = None
) -> AsyncIterator[StoreBroker]:
    """Mosquitto with the page's mosquitto.conf and ACL, its users, a TLS listener (and ``bridge``)."""
    etc, data = root / "etc", root / "data"
    data.mkdir(parents=True)
    pki = make_pki(etc / "certs")
    if central_ca is not None:
        shutil.copyfile(central_ca, etc / "certs" / "central-ca.crt")
    port, tls_port = free_port(), free_port()
    (etc / "acl").write_text(doc_block("acl").replace(DOC_ORGNR, ORGNR), encoding="utf-8")
    await make_passwd(etc / "passwd", PASSWORDS)
    mosquitto = Mosquitto(root, store_config(etc, data, port, tls_port, bridge), port)
    await mosquitto.start()
    try:
        yield StoreBroker(mosquitto, tls_port, pki)
    finally:
        await mosquitto.stop()


@pytest.fixture
async def store_broker(tmp_path: Path) -> AsyncIterator[StoreBroker]:
    async with running_store_broker(tmp_path / "store-broker") as broker:
        yield broker


@dataclass
class Peer:
    """A plain MQTT client of one user, collecting what it receives."""

    client: aiomqtt.Client
    received: asyncio.Queue[tuple[str, bytes]]

    async def next(self) -> tuple[str, bytes]:
        async with asyncio.timeout(DEADLINE):
            return await self.received.get()

    async def publish(self, topic: str, payload: bytes) -> None:
        await self.client.publish(topic, payload, qos=1)  # QoS 1: returns once the broker has it

    async def subscribe(self, topic: str) -> list[int]:
        granted = await self.client.subscribe(topic, qos=1)
        return [code if isinstance(code, int) else code.value for code in granted]


@contextlib.asynccontextmanager
async def peer(broker: StoreBroker, user: str) -> AsyncIterator[Peer]:
    async with aiomqtt.Client("127.0.0.1", broker.port, username=user, password=PASSWORDS[user]) as client:
        received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        async def read() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.put_nowait((str(message.topic), message.payload))

        reader = asyncio.create_task(read())
        try:
            yield Peer(client, received)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def test_a_till_writes_its_own_topics_and_no_other(store_broker: StoreBroker) -> None:
    async with peer(store_broker, SYNC_USER) as sync, peer(store_broker, POS_ID) as till:
        await sync.subscribe("tillgw/+/+/+/+")  # as wide as the sync module's own filters
        await sync.subscribe(f"{BASE}/catalog/#")
        forged = (
            f"{BASE}/KASSA2/receipts",  # another register's
            f"{BASE}/KASSA2/events",
            f"{BASE}/{POS_ID}/acks",  # its own acks: it could mark its messages delivered
            f"{BASE}/catalog/articles",
            f"tillgw/5560360793/{STORE}/{POS_ID}/receipts",  # another company's tree
        )
        for topic in forged:
            await till.publish(topic, b"forged")
        for leaf in ("receipts", "reports", "events"):
            await till.publish(f"{BASE}/{POS_ID}/{leaf}", leaf.encode())
        arrived = [await sync.next() for _ in range(3)]
        assert arrived == [
            (f"{BASE}/{POS_ID}/{leaf}", leaf.encode()) for leaf in ("receipts", "reports", "events")
        ]
        denied = await store_broker.mosquitto.wait_log("Denied PUBLISH", len(forged))
        assert len(denied) == len(forged)


async def test_a_user_named_like_a_wildcard_matches_no_pattern(store_broker: StoreBroker) -> None:
    """A user "+" would make ``…/%u/receipts`` read ``…/+/receipts``: Mosquitto refuses that match."""
    async with peer(store_broker, SYNC_USER) as sync, peer(store_broker, POS_ID) as till:
        await sync.subscribe(f"{BASE}/+/receipts")
        async with peer(store_broker, "+") as wild:
            await wild.publish(f"{BASE}/KASSA2/receipts", b"forged")
        await till.publish(f"{BASE}/{POS_ID}/receipts", b"real")
        assert await sync.next() == (f"{BASE}/{POS_ID}/receipts", b"real")
        await store_broker.mosquitto.wait_log('ACL denying access to client with dangerous username "+"')


async def test_a_till_reads_its_acks_and_the_catalog_and_nothing_else(store_broker: StoreBroker) -> None:
    async with peer(store_broker, SYNC_USER) as sync, peer(store_broker, POS_ID) as till:
        # A wider filter than allowed is granted; the broker delivers only what the ACL lets it read.
        assert await till.subscribe(f"{BASE}/+/acks") == [1]
        await till.subscribe(f"{BASE}/catalog/#")
        await till.subscribe(f"{BASE}/KASSA2/receipts")
        await sync.publish(f"{BASE}/KASSA2/acks", Ack(f"{ORGNR}/{STORE}/KASSA2/1", "stored").to_bytes())
        async with peer(store_broker, "KASSA2") as other:
            await other.publish(f"{BASE}/KASSA2/receipts", b"not yours")
        await sync.publish(f"{BASE}/catalog/articles", b"catalog")
        own = Ack(f"{ORGNR}/{STORE}/{POS_ID}/1", "stored").to_bytes()
        await sync.publish(f"{BASE}/{POS_ID}/acks", own)
        assert await till.next() == (f"{BASE}/catalog/articles", b"catalog")
        assert await till.next() == (f"{BASE}/{POS_ID}/acks", own)


async def test_the_sync_status_is_written_by_the_sync_user_and_read_by_the_tills(
    store_broker: StoreBroker,
) -> None:
    async with peer(store_broker, SYNC_USER) as sync, peer(store_broker, POS_ID) as till:
        await till.subscribe(f"{BASE}/sync/status")
        await till.publish(f"{BASE}/sync/status", b"forged by a till")  # dropped: tills only read it
        await sync.publish(f"{BASE}/sync/status", b"status")
        assert await till.next() == (f"{BASE}/sync/status", b"status")
        await store_broker.mosquitto.wait_log("Denied PUBLISH")


async def test_the_sync_user_cannot_forge_receipts(store_broker: StoreBroker) -> None:
    async with peer(store_broker, SYNC_USER) as sync, peer(store_broker, POS_ID) as till:
        await sync.subscribe(f"{BASE}/+/receipts")
        await sync.publish(f"{BASE}/{POS_ID}/receipts", b"forged by sync")  # dropped before its PUBACK
        await till.publish(f"{BASE}/{POS_ID}/receipts", b"real")
        assert await sync.next() == (f"{BASE}/{POS_ID}/receipts", b"real")


async def test_the_till_publishes_over_tls_with_its_ca_file_and_gets_its_acks(
    store_broker: StoreBroker, till: TillParts, make_publisher: PublisherFactory
) -> None:
    async with peer(store_broker, SYNC_USER) as sync:
        await sync.subscribe("tillgw/+/+/+/receipts")
        publisher = await make_publisher(store_broker.till_config())
        await till.sell(2)
        for n in (1, 2):
            topic, _ = await sync.next()
            assert topic == TOPICS.for_kind("receipt")
            await sync.publish(TOPICS.acks, Ack(f"{ORGNR}/{STORE}/{POS_ID}/{n}", "stored").to_bytes())
        await publisher.wait_acked(2)
        assert publisher.state is DeviceState.READY
        assert publisher.url == f"mqtts://127.0.0.1:{store_broker.tls_port}"


async def test_a_wrong_password_is_told_in_words(
    store_broker: StoreBroker, till: TillParts, make_publisher: PublisherFactory
) -> None:
    publisher = await make_publisher(store_broker.till_config(password="wrong"))
    health = await wait_state(publisher, DeviceState.FAILED)
    assert health.reason == (
        f"failed: the MQTT broker at mqtts://127.0.0.1:{store_broker.tls_port} refused the till's login "
        f"(user '{POS_ID}'): not authorised — check [mqtt] username and password, and the broker's users "
        "(docs/mosquitto.md)"
    )


async def test_a_certificate_from_another_ca_is_told_in_words(
    store_broker: StoreBroker, till: TillParts, make_publisher: PublisherFactory
) -> None:
    publisher = await make_publisher(store_broker.till_config(ca_file=store_broker.pki.other_ca))
    health = await wait_state(publisher, DeviceState.FAILED)
    assert health.reason.startswith(
        f"failed: the MQTT broker at mqtts://127.0.0.1:{store_broker.tls_port} has a certificate the till "
        "does not trust (unable to get local issuer certificate)"
    )
    assert health.reason.endswith("— check [mqtt].ca_file")


async def test_the_real_sync_module_works_under_the_acl(
    store_broker: StoreBroker,
    till: TillParts,
    make_publisher: PublisherFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`tillgw sync` as user tillgw-sync: stores and acks the till's messages; --once finds its marker."""
    from gateway.sync.config import SyncConfig
    from gateway.sync.service import SyncService

    config = SyncConfig(
        inbox=tmp_path / "sync" / "inbox.db",
        sie_dir=tmp_path / "sync" / "sie",
        log_dir=tmp_path / "sync" / "logs",
        mqtt=MqttConfig(
            host="127.0.0.1", port=store_broker.port, username=SYNC_USER, password=PASSWORDS[SYNC_USER]
        ),
        registers=frozenset({f"{ORGNR}/{STORE}/{POS_ID}"}),
        client_id="tillgw-sync-test",
        once_timeout=DEADLINE,
    )
    publisher = await make_publisher(store_broker.till_config())
    await till.sell(3)
    await till.pipeline.report("z")
    stop = asyncio.Event()
    running = asyncio.create_task(SyncService(config).run(once=False, stop=stop))
    try:
        for n in range(1, 5):  # 1 may have come before the module's first subscription: then resent
            await publisher.wait_acked(n)
    finally:
        stop.set()
        await running
    assert (await publisher.status()).depth == 0

    caplog.set_level(logging.INFO)
    async with peer(store_broker, SYNC_USER) as observer:  # another client of the same user
        await observer.subscribe(f"{BASE}/+/receipts")
        await till.sell()
        await observer.next()  # the broker has message 5: queued for the module's session too
    async with asyncio.timeout(DEADLINE):
        await SyncService(config).run(once=True)
        await publisher.wait_acked(5)
    assert not [r for r in caplog.records if "did not come back" in r.getMessage()]


async def test_a_store_bridged_to_a_central_broker_carries_messages_out_and_acks_back(
    tmp_path: Path, till: TillParts, make_publisher: PublisherFactory
) -> None:
    """The page's bridge and central ACL: the till talks to its store's broker only; the sync
    module, at the central broker, gets the messages and its acks come back over the bridge."""
    central_root = tmp_path / "central"
    central_pki = make_pki(central_root / "certs")
    (central_root / "data").mkdir()
    central_tls = free_port()
    central_passwords = {"main": "bridge-secret", SYNC_USER: "central-sync-secret"}
    await make_passwd(central_root / "passwd", central_passwords)
    (central_root / "acl").write_text(doc_block("central-acl").replace(DOC_ORGNR, ORGNR), encoding="utf-8")
    central = Mosquitto(
        central_root,
        f"""allow_anonymous false
password_file {central_root}/passwd
acl_file {central_root}/acl
persistence true
persistence_location {central_root}/data/
listener {central_tls} 127.0.0.1
certfile {central_root}/certs/broker.crt
keyfile {central_root}/certs/broker.key
""",
        central_tls,
        tls=True,
    )
    bridge = doc_block("bridge").replace(DOC_ORGNR, ORGNR)
    for old, new in (
        ("address mqtt.central.demobutiken.se:8883", f"address 127.0.0.1:{central_tls}"),
        ("remote_password …", f"remote_password {central_passwords['main']}"),
    ):
        assert old in bridge, old
        bridge = bridge.replace(old, new)
    await central.start()
    try:
        async with running_store_broker(tmp_path / "store", bridge, central_pki.ca) as store:
            await store.mosquitto.wait_log("Received CONNACK on connection local.bridge-")
            async with aiomqtt.Client(
                "127.0.0.1",
                central_tls,
                username=SYNC_USER,
                password=central_passwords[SYNC_USER],
                tls_context=ssl.create_default_context(cafile=str(central_pki.ca)),
            ) as sync:
                await sync.subscribe("tillgw/+/+/+/+", qos=1)
                publisher = await make_publisher(store.till_config())
                await till.sell(2)
                await till.pipeline.report("z")
                first: dict[int, str] = {}
                async with asyncio.timeout(DEADLINE):
                    async for message in sync.messages:
                        assert isinstance(message.payload, bytes)
                        received = decode_message(message.payload)
                        assert str(message.topic) == TOPICS.for_kind(received.kind)
                        first.setdefault(received.sequence, received.kind)
                        ack = Ack(received.msg_id, "stored").to_bytes()
                        await sync.publish(TOPICS.acks, ack, qos=1)  # over the bridge, back to the till
                        if len(first) == 3:
                            break
                    assert first == {1: "receipt", 2: "receipt", 3: "report.z"}
                    for n in (1, 2, 3):
                        await publisher.wait_acked(n)
    finally:
        await central.stop()


async def test_a_missing_ca_file_is_told_in_words(
    store_broker: StoreBroker, till: TillParts, make_publisher: PublisherFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.crt"
    publisher = await make_publisher(store_broker.till_config(ca_file=missing))
    health = await wait_state(publisher, DeviceState.FAILED)
    assert health.reason == (
        f"failed: the till cannot use its CA file {missing} (No such file or directory) — "
        "check [mqtt].ca_file"
    )
