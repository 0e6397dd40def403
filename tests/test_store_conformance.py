"""The SQLite store keeps the store contract (headwater.testing.store_conformance), with either writer."""

import pytest
from headwater_sqlite.store import SQLiteStore

from headwater import hookimpl
from headwater.stores import Store
from headwater.testing.store_conformance import StoreConformance


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE": "sqlite", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'conformance.db'}"}


class TestSQLiteStoreWithThreadWriter(StoreConformance):
    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE_WRITER": "thread", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'conformance.db'}"}


# The suite catches a store that breaks the contract: one whose claims of due times always succeed
# and whose histories lose their last state. Its failing tests are declared known failures, which
# are strict: were the suite to pass them, this class would fail.


class _CarelessStore(SQLiteStore):
    name = "careless"

    def claim_schedule_run(self, name, scheduled_time, flow_run_id):
        super().claim_schedule_run(name, scheduled_time, flow_run_id)
        return True

    def read_state_history(self, run_id):
        return super().read_state_history(run_id)[:-1]


class _CarelessPlugin:
    @hookimpl
    def register_result_stores(self, register):
        register(_CarelessStore)


class TestTheSuiteCatchesABrokenStore(StoreConformance):
    known_failures = {
        "test_schedules_keep_paused_and_a_due_time_is_claimed_once": "claims every due time",
        "test_states_read_back_in_order_and_the_row_is_the_last_state": "drops the last state",
        "test_a_flow_with_a_retry_and_a_cache_hit_is_recorded_whole": "drops the last state",
        "test_a_run_of_another_host_is_crashed_when_its_heartbeats_stop": "drops the last state",
    }

    @pytest.fixture
    def store_plugins(self):
        return [_CarelessPlugin()]

    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE": "careless", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'careless.db'}"}


# The contract's own answers to the browsing reads (built on the older reads), which a store that
# does not answer them in its query language keeps: the suite holds them to the same meaning.


class _PlainReadsStore(SQLiteStore):
    name = "plain-reads"
    query_flow_runs = Store.query_flow_runs
    count_flow_runs = Store.count_flow_runs
    read_task_run = Store.read_task_run
    read_state_histories = Store.read_state_histories


class _PlainReadsPlugin:
    @hookimpl
    def register_result_stores(self, register):
        register(_PlainReadsStore)


class TestTheContractsDefaultReads(StoreConformance):
    @pytest.fixture
    def store_plugins(self):
        return [_PlainReadsPlugin()]

    @pytest.fixture
    def store_environment(self, tmp_path):
        return {"HEADWATER_STORE": "plain-reads", "HEADWATER_DATABASE_URL": f"sqlite:///{tmp_path / 'plain.db'}"}
