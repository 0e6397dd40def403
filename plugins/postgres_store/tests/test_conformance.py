"""The PostgreSQL store keeps the store contract (headwater.testing.store_conformance)."""

import pytest

from headwater.testing.store_conformance import StoreConformance


class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def store_environment(self, fresh_database_url):
        return {"HEADWATER_STORE": "postgres", "HEADWATER_DATABASE_URL": fresh_database_url()}
