"""Our MQTT helpers against a real Mosquitto of the test's own (tests/mosquitto.py)."""

from __future__ import annotations

from tests.mosquitto import DEADLINE as DEADLINE
from tests.mosquitto import Mosquitto as Mosquitto
from tests.mosquitto import make_mosquitto as make_mosquitto
from tests.mosquitto import mosquitto as mosquitto
