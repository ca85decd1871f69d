"""A consumer of the tills' bus, written from docs/bus/ and docs/bus-consumer.md alone.

It takes nothing from tillgateway's code: MQTT through paho-mqtt, the checks through
jsonschema and the files of docs/bus/, the ack's proof through cryptography. For each
message a till publishes it

1. validates it against ``till-message.schema.json`` and the one rule the file cannot
   hold (``msg_id`` is ``{orgnr}/{store}/{register}/{sequence}``, on that register's topic);
2. stores it in its own SQLite database, once per ``msg_id`` (a message sent again, as a
   till does until it has an ack, is stored once and acked again), committed before 3.;
3. acks it on ``tillgw/{orgnr}/{store}/{register}/acks``: ``stored``, or ``held`` with the
   reason when it is not valid, with an Ed25519 ``proof`` the till checks against the
   public key it was given (``[mqtt] sync_public_key``).

Run it::

    python consumer.py --export-key --key consumer-key.pem > consumer-key.pub.pem
    python consumer.py --orgnr 5560360793 --store main --db consumer.db --key consumer-key.pem

Each message it takes is a line on standard output: ``stored <msg_id> <kind>`` or
``held <msg_id> <reason>``. SIGTERM or SIGINT ends it after the message in hand.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

ACK_SCHEMA = "tillgw.bus-ack/1"
LEAVES = ("receipts", "reports", "events", "customers", "orders")  # what a till publishes
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "bus"
SESSION_EXPIRY = 3600  # seconds the broker keeps our queue while we are away

TABLES = """
CREATE TABLE IF NOT EXISTS messages (
    msg_id TEXT PRIMARY KEY,      -- idempotency: a message sent again is stored once
    orgnr TEXT NOT NULL, store TEXT NOT NULL, register TEXT NOT NULL,
    sequence INTEGER NOT NULL,    -- process a register's messages in this order
    kind TEXT NOT NULL, schema TEXT NOT NULL,
    message TEXT NOT NULL,        -- the JSON as received
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held (
    msg_id TEXT PRIMARY KEY, topic TEXT NOT NULL, reason TEXT NOT NULL,
    message TEXT NOT NULL, received_at TEXT NOT NULL
);
"""


def load_key(path: Path) -> Ed25519PrivateKey:
    """Our signing key, made (mode 0600) the first time."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SystemExit(f"{path}: not an Ed25519 private key")
    return loaded


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def proof(key: Ed25519PrivateKey, msg_id: str, status: str, reason: str | None, entry_hash: str) -> str:
    """base64 of the signature over ``["tillgw.bus-ack/1", msg_id, status, reason, entry_hash]`` as
    compact JSON, UTF-8, non-ASCII as is (docs/bus-consumer.md)."""
    signed = json.dumps(
        [ACK_SCHEMA, msg_id, status, reason, entry_hash], separators=(",", ":"), ensure_ascii=False
    )
    return base64.b64encode(key.sign(signed.encode())).decode()


class Consumer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.orgnr: str = args.orgnr
        self.store: str = args.store
        self.key = load_key(args.key)
        schemas: Path = args.schemas
        self.messages = self._validator(schemas / "till-message.schema.json")
        self.acks = self._validator(schemas / "ack.schema.json")
        self.db = sqlite3.connect(args.db)
        self.db.executescript(TABLES)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        self.group: str = args.group
        self.host: str = args.host
        self.port: int = args.port

    @staticmethod
    def _validator(path: Path) -> jsonschema.Draft202012Validator:
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        return jsonschema.Draft202012Validator(schema)

    def run(self) -> None:
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's own gap
        connect.SessionExpiryInterval = SESSION_EXPIRY  # messages wait for us at the broker
        self.client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=connect)
        self.client.loop_forever()
        self.db.close()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.client.disconnect()

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            print(f"cannot connect: {reason}", file=sys.stderr, flush=True)
            return
        # Shared subscriptions: several copies of this consumer share the work, each message
        # going to one of them. QoS 1: the broker keeps each until we have taken it.
        topics = [(f"$share/{self.group}/tillgw/{self.orgnr}/{self.store}/+/{leaf}", 1) for leaf in LEAVES]
        client.subscribe(topics)
        print(f"connected to {self.host}:{self.port}", flush=True)

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Runs to its end before paho acknowledges the MQTT delivery: stored, then acked."""
        try:
            obj = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            print(f"not JSON on {message.topic}: dropped, nothing to ack", file=sys.stderr, flush=True)
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("msg_id"), str):
            print(f"no msg_id on {message.topic}: dropped, nothing to ack", file=sys.stderr, flush=True)
            return
        msg_id, entry_hash = obj["msg_id"], obj.get("entry_hash")
        register = message.topic.split("/")[3]
        reason = self.problem(obj, message.topic)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db:
            if reason is None:
                self.db.execute(
                    "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (msg_id, obj["orgnr"], obj["store"], obj["register"], obj["sequence"], obj["kind"],
                     obj["schema"], message.payload.decode(), now),
                )  # fmt: skip
            else:
                self.db.execute(
                    "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?, ?)",
                    (msg_id, message.topic, reason, message.payload.decode(errors="replace"), now),
                )
        status = "stored" if reason is None else "held"
        if isinstance(entry_hash, str):
            self.ack(register, msg_id, status, reason, entry_hash)
        print(f"{status} {msg_id} {obj.get('kind') if reason is None else reason}", flush=True)

    def problem(self, obj: dict[str, Any], topic: str) -> str | None:
        """Why the message cannot be taken, in words; None when it is valid."""
        errors = sorted(self.messages.iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "message"
            return f"not valid against till-message.schema.json at {where}: {errors[0].message}"[:400]
        expected = f"{obj['orgnr']}/{obj['store']}/{obj['register']}/{obj['sequence']}"
        if obj["msg_id"] != expected:
            return f"msg_id {obj['msg_id']!r} is not {expected!r}"
        if topic.split("/")[1:4] != [obj["orgnr"], obj["store"], obj["register"]]:
            return f"a message of {expected} does not belong on {topic}"
        return None

    def ack(self, register: str, msg_id: str, status: str, reason: str | None, entry_hash: str) -> None:
        body: dict[str, Any] = {"schema": ACK_SCHEMA, "msg_id": msg_id, "status": status}
        if reason is not None:
            body["reason"] = reason
        body["proof"] = proof(self.key, msg_id, status, reason, entry_hash)
        self.acks.validate(body)  # what we send is what the till reads
        topic = f"tillgw/{self.orgnr}/{self.store}/{register}/acks"
        self.client.publish(topic, json.dumps(body, ensure_ascii=False).encode(), qos=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Store and ack what the tills of one store publish.")
    parser.add_argument("--orgnr", help="the company's organisationsnummer, as the tills' [shop] orgnr")
    parser.add_argument("--store", help="the store, as the tills' [shop] store")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--db", type=Path, default=Path("consumer.db"), help="our SQLite database")
    parser.add_argument(
        "--key", type=Path, default=Path("consumer-key.pem"), help="our Ed25519 key (made if missing)"
    )
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="the folder of the JSON Schema files")
    parser.add_argument("--client-id", default="bus-consumer", help="our MQTT client id (our session)")
    parser.add_argument("--group", default="bus-consumer", help="the shared subscription's group")
    parser.add_argument("--export-key", action="store_true", help="print our public key (PEM) and end")
    args = parser.parse_args(argv)
    if args.export_key:
        print(public_pem(load_key(args.key)), end="")
        return 0
    if not args.orgnr or not args.store:
        parser.error("--orgnr and --store are needed")
    consumer = Consumer(args)
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    consumer.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
