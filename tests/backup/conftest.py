"""The sync module's test parts for the restore's tests: a Mosquitto of the test's own, a real
till's journal and outbox, the till's end of the bus, the sync module's config, PostgreSQL."""

from tests.sync.conftest import broker, make_till, sync_config, till_bus  # noqa: F401  (fixtures)
from tests.sync.postgres import postgres_database, postgres_url  # noqa: F401  (fixtures)
