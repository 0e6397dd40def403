"""The SQLite store keeps the store contract (headwater.testing.store_conformance), with either writer."""

import pytest

from headwater.testing.store_conformance import StoreConformance


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE": "sqlite", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'conformance.db'}"}


class TestSQLiteStoreWithThreadWriter(StoreConformance):
    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE_WRITER": "thread", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'conformance.db'}"}
