"""The store contract (:class:`headwater.stores.Store`), as tests a store plugin runs against its own store.

Subclass :class:`StoreConformance` in the plugin's tests and override ``store_environment``
with the variables that select the store, on an empty record for each test::

    from headwater.testing.store_conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store_environment(self, tmp_path):
            return {"HEADWATER_STORE": "mine", "HEADWATER_DATABASE_URL": fresh_database_url()}

pytest then collects every ``test_*`` method below. Each test gets a fresh headwater home and
plugin set; ``store`` is the store those variables open, and flows run in the test use it.

What the contract covers: states recorded and read back, the run's row always as of the last
state of its history; runs read by id, part of an id and name; newest-first listing; result
payloads (a missing key is a ``KeyError``; a large payload whole); flow runs queried by flow,
state, tags, time and parent run, a page at a time, and counted by state and time bucket; cache entries filed,
listed and cleared; stored log lines by level and after an id; deleting runs with everything
under them; tag concurrency limits (all-or-none slots, refusals); artifacts; requests to a
run; schedules (a due time claimed once); and a flow with retries and a cache hit, run on the
store end to end. The optional parts of the contract are in ``optional_parts``: a store
without one sets it to the parts it has, and those tests are skipped, saying so.

A known gap goes in ``known_failures`` (test name -> reason): that test is then expected to
fail, strictly, so fixing the gap makes the suite say so.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest

from headwater import flow, task
from headwater.exceptions import AmbiguousRunId
from headwater.orchestration import commit_state
from headwater.runs import FlowRun, TaskRun
from headwater.states import AwaitingRetry, Completed, Failed, Pending, Retrying, Running, State
from headwater.stores import CacheEntry, FlowRunQuery, Store

__all__ = ["StoreConformance", "OPTIONAL_PARTS"]

#: The parts of the contract a store may leave out (each a group of the methods of ``Store``).
OPTIONAL_PARTS = frozenset({
    "logs", "cache listing", "deleting runs", "concurrency limits", "artifacts", "run requests", "schedules", "heartbeats",
})

_UTC = _dt.timezone.utc


def _moved(run: FlowRun | TaskRun, store: Store, *states: State) -> None:
    for state in states:
        commit_state(run, state)
        store.record_state(run, state)


def _flow_run(name: str = "conformance-run", flow_name: str = "conformance", **fields: Any) -> FlowRun:
    run = FlowRun(name, flow_name, "1", {"x": 1}, tags=("a", "b"))
    for key, value in fields.items():
        setattr(run, key, value)
    return run


def _task_run(flow_run: FlowRun, name: str = "conformance-task-0") -> TaskRun:
    return TaskRun(name, "conformance-task", "k" * 16, flow_run.id, {"y": 2}, tags=("t",))


@task(retries=1, retry_delay_seconds=0)
def _flaky(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise ValueError("the first attempt fails")
    return "ok"


@task(cache_key_fn=lambda context, parameters: f"conformance-{parameters['n']}")
def _cached(n: int) -> int:
    return n * n


@flow(name="conformance-flow")
def _conformance_flow(marker: str) -> tuple[str, int, int]:
    return _flaky(marker), _cached(3), _cached(3)


class StoreConformance:
    """The store contract as tests. Override ``store_environment``; see the module's docs."""

    #: The optional parts this store has (see ``OPTIONAL_PARTS``).
    optional_parts: ClassVar[frozenset[str]] = OPTIONAL_PARTS
    #: Test name -> why the store fails it, for a known gap.
    known_failures: ClassVar[dict[str, str]] = {}

    @pytest.fixture
    def store_environment(self, tmp_path: Path) -> dict[str, str]:
        """The variables that select the store under test, on an empty record. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must override the 'store_environment' fixture of StoreConformance")

    @pytest.fixture
    def store_plugins(self) -> list[Any]:
        """Plugin objects to register besides the installed ones (a store not installed as a distribution)."""
        return []

    @pytest.fixture(autouse=True)
    def _conformance_isolation(
        self, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        store_environment: dict[str, str], store_plugins: list[Any],
    ) -> Any:
        from headwater.plugins import Plugins, use_plugins
        from headwater.stores import close_stores

        reason = self.known_failures.get(request.node.originalname)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
        monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "headwater-home"))
        for name in ("HEADWATER_DATABASE_URL", "HEADWATER_LOCAL_STORAGE_PATH", "HEADWATER_STORE", "HEADWATER_LOAD_PLUGINS", "HEADWATER_BLOCK_PLUGINS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in store_environment.items():
            monkeypatch.setenv(name, value)
        plugins = Plugins()
        for number, plugin in enumerate(store_plugins):
            plugins.register(plugin, name=f"store-under-test-{number}")
        with use_plugins(plugins):
            yield
        close_stores()

    @pytest.fixture
    def store(self) -> Store:
        from headwater.environment import standalone_environment

        return standalone_environment()[0]

    def _needs(self, part: str) -> None:
        if part not in self.optional_parts:
            pytest.skip(f"the store does not keep {part} (an optional part of the contract)")

    # -- runs and states ----------------------------------------------------------------------------
    def test_states_read_back_in_order_and_the_row_is_the_last_state(self, store: Store) -> None:
        run = _flow_run()
        task_run = _task_run(run)
        _moved(run, store, Pending(), Running())
        _moved(task_run, store, Pending(), Running(), Failed("boom"), AwaitingRetry("retry"), Retrying(), Completed())
        _moved(run, store, Completed("done"))
        store.flush()
        history = store.read_state_history(task_run.id)
        assert [s.name for s in history] == ["Pending", "Running", "Failed", "AwaitingRetry", "Retrying", "Completed"]
        assert history[2].message == "boom"
        [recorded_task] = store.read_task_runs(flow_run_id=run.id)
        assert recorded_task.state is not None and recorded_task.state.name == history[-1].name
        assert recorded_task.run_count == 2 and recorded_task.tags == ["t"] and recorded_task.parameters == {"y": 2}
        recorded = store.read_flow_run(run.id)
        assert recorded is not None and recorded.state is not None and recorded.state.message == "done"
        assert recorded.flow_name == "conformance" and recorded.tags == ["a", "b"] and recorded.parameters == {"x": 1}
        assert recorded.start_time is not None and recorded.end_time is not None and recorded.start_time <= recorded.end_time

    def test_a_run_is_found_by_id_part_of_an_id_and_name(self, store: Store) -> None:
        first, second = _flow_run("red-orca"), _flow_run("blue-whale")
        _moved(first, store, Pending())
        _moved(second, store, Pending())
        store.flush()
        for reference in (first.id, first.id[-8:], first.id[:20], "red-orca"):
            found = store.read_flow_run(reference)
            assert found is not None and found.id == first.id, reference
        assert store.read_flow_run("no-such-run") is None
        common = _common_prefix(first.id, second.id)
        if common:
            with pytest.raises(AmbiguousRunId):
                store.read_flow_run(common)

    def test_flow_runs_are_listed_newest_first_by_flow_and_limit(self, store: Store) -> None:
        runs = [_flow_run(f"run-{n}", flow_name="a" if n % 2 else "b") for n in range(5)]
        for n, run in enumerate(runs):
            run.created = _dt.datetime(2026, 1, 1, tzinfo=_UTC) + _dt.timedelta(minutes=n)
            _moved(run, store, State(Pending().type, "Pending", timestamp=run.created))
        store.flush()
        assert [r.name for r in store.read_flow_runs()] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
        assert [r.name for r in store.read_flow_runs(flow_name="a")] == ["run-3", "run-1"]
        assert len(store.read_flow_runs(limit=2)) == 2

    def test_flow_runs_are_queried_by_flow_state_tag_time_and_parent_and_counted(self, store: Store) -> None:
        base = _dt.datetime(2026, 1, 1, tzinfo=_UTC)
        runs = []
        for n in range(6):  # a minute apart; even ones of flow "a", tagged by n, every third one Failed
            run = _flow_run(f"run-{n}", flow_name="a" if n % 2 == 0 else "b")
            run.tags = ("nightly", "big") if n < 2 else ("nightly",) if n < 4 else ("nightly-extra",)
            run.created = base + _dt.timedelta(minutes=n)
            final = Failed("boom") if n % 3 == 0 else Completed()
            _moved(run, store, State(Pending().type, "Pending", timestamp=run.created), final)
            runs.append(run)
        sub = _flow_run("sub", flow_name="a", parent_flow_run_id=runs[0].id)
        sub.created = base + _dt.timedelta(minutes=10)
        _moved(sub, store, State(Pending().type, "Pending", timestamp=sub.created))
        store.flush()

        def names(query: FlowRunQuery, **page: int) -> list[str]:
            return [r.name for r in store.query_flow_runs(query, **page)]

        assert names(FlowRunQuery()) == ["sub", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"]
        assert names(FlowRunQuery(), limit=2, offset=2) == ["run-4", "run-3"]
        assert names(FlowRunQuery(flow_name="a")) == ["sub", "run-4", "run-2", "run-0"]
        assert names(FlowRunQuery(state_types=("FAILED",))) == ["run-3", "run-0"]
        assert names(FlowRunQuery(state_types=("FAILED", "PENDING"))) == ["sub", "run-3", "run-0"]
        assert names(FlowRunQuery(tags=("nightly",))) == ["run-3", "run-2", "run-1", "run-0"]  # not nightly-extra
        assert names(FlowRunQuery(tags=("nightly", "big"))) == ["run-1", "run-0"]
        since, until = base + _dt.timedelta(minutes=2), base + _dt.timedelta(minutes=4)
        assert names(FlowRunQuery(since=since, until=until)) == ["run-3", "run-2"]  # until is left out
        assert names(FlowRunQuery(parent_flow_run_id=runs[0].id)) == ["sub"]
        assert names(FlowRunQuery(flow_name="nope")) == []
        for query in (FlowRunQuery(), FlowRunQuery(flow_name="a", tags=("nightly",)), FlowRunQuery(state_types=("COMPLETED",))):
            assert names(query) == [r.name for r in store.read_flow_runs(limit=100) if query.matches(r)], query

        counts = {(c.state_type, c.count) for c in store.count_flow_runs(FlowRunQuery())}
        assert counts == {("PENDING", 1), ("FAILED", 2), ("COMPLETED", 4)}
        assert [(c.state_type, c.count) for c in store.count_flow_runs(FlowRunQuery(flow_name="b"))] == [("COMPLETED", 2), ("FAILED", 1)]
        buckets = store.count_flow_runs(FlowRunQuery(until=base + _dt.timedelta(minutes=9)), bucket_seconds=120)
        assert [(c.bucket, c.state_type, c.count) for c in buckets] == [
            (base, "COMPLETED", 1), (base, "FAILED", 1),
            (base + _dt.timedelta(minutes=2), "COMPLETED", 1), (base + _dt.timedelta(minutes=2), "FAILED", 1),
            (base + _dt.timedelta(minutes=4), "COMPLETED", 2),
        ]

        assert store.flow_run_time_span(FlowRunQuery()) == (base, base + _dt.timedelta(minutes=10))
        assert store.flow_run_time_span(FlowRunQuery(flow_name="b")) == (base + _dt.timedelta(minutes=1), base + _dt.timedelta(minutes=5))
        assert store.flow_run_time_span(FlowRunQuery(flow_name="nope")) is None

    def test_task_runs_and_state_histories_are_read_by_id(self, store: Store) -> None:
        run = _flow_run()
        first, second = _task_run(run, "first"), _task_run(run, "second")
        _moved(first, store, Pending(), Running(), Completed())
        _moved(second, store, Pending(), Running(), Failed("boom"))
        store.flush()
        found = store.read_task_run(second.id)
        assert found is not None and found.name == "second" and found.state is not None and found.state.message == "boom"
        assert store.read_task_run("no-such-run") is None
        histories = store.read_state_histories([first.id, second.id, "no-such-run"])
        assert {run_id: [s.name for s in states] for run_id, states in histories.items()} == {
            first.id: ["Pending", "Running", "Completed"], second.id: ["Pending", "Running", "Failed"], "no-such-run": [],
        }

    # -- results and the cache -----------------------------------------------------------------------
    def test_result_payloads_round_trip_whole_and_a_missing_one_is_a_key_error(self, store: Store) -> None:
        big = bytes(range(256)) * 8192  # 2 MiB
        store.write_result("a" * 64, b"small")
        store.write_result("b" * 64, big)
        store.flush()
        assert store.read_result("a" * 64) == b"small" and store.read_result("b" * 64) == big
        with pytest.raises(KeyError):
            store.read_result("c" * 64)

    def test_cache_entries_are_filed_listed_and_cleared(self, store: Store) -> None:
        now = _dt.datetime.now(_UTC)
        run = _flow_run()
        task_run = _task_run(run)
        _moved(task_run, store, Pending())
        store.write_result("d" * 64, b"J1")
        store.write_cache_entry(CacheEntry("fresh", "d" * 64, task_run.id, now, now + _dt.timedelta(hours=1), task_key="k"))
        store.write_cache_entry(CacheEntry("stale", "d" * 64, task_run.id, now, now - _dt.timedelta(seconds=1), task_key="k"))
        found = store.read_cache_entry("fresh")  # at once, before any flush
        assert found is not None and found.storage_key == "d" * 64 and found.is_valid(now)
        store.flush()
        assert store.read_cache_entry("nope") is None
        if "cache listing" in self.optional_parts:
            assert {e.key for e in store.read_cache_entries()} == {"fresh", "stale"}
        assert store.clear_cache(expired_only=True) == 1
        assert store.read_cache_entry("stale") is None and store.read_cache_entry("fresh") is not None
        assert store.clear_cache(key="fresh") == 1 and store.clear_cache() == 0

    # -- logs, deleting ----------------------------------------------------------------------------------
    def test_log_lines_are_read_by_level_and_after_an_id(self, store: Store) -> None:
        self._needs("logs")
        run = _flow_run()
        task_run = _task_run(run)
        _moved(run, store, Pending())
        _moved(task_run, store, Pending())
        for n, level in enumerate((logging.DEBUG, logging.INFO, logging.WARNING)):
            store.write_log(task_run.id if n else run.id, run.id, level, "conformance", 1_700_000_000.0 + n, f"line {n}")
        store.flush()
        lines = store.read_logs(run.id)
        assert [line.message for line in lines] == ["line 0", "line 1", "line 2"]
        assert [line.message for line in store.read_logs(run.id, min_level=logging.INFO)] == ["line 1", "line 2"]
        assert [line.message for line in store.read_logs(run.id, after_id=lines[1].id)] == ["line 2"]
        assert lines[1].run_id == task_run.id

    def test_deleting_a_flow_run_deletes_everything_under_it(self, store: Store) -> None:
        self._needs("deleting runs")
        doomed, kept = _flow_run("doomed"), _flow_run("kept")
        sub = _flow_run("sub", parent_flow_run_id=doomed.id)
        task_run = _task_run(doomed)
        for run in (doomed, kept, sub, task_run):
            _moved(run, store, Pending(), Completed())
        store.flush()
        deleted = store.delete_flow_runs([doomed.id])
        assert (deleted.flow_runs, deleted.task_runs) == (2, 1)
        assert store.read_flow_run(doomed.id) is None and store.read_flow_run(sub.id) is None
        assert store.read_task_runs(flow_run_id=doomed.id) == [] and store.read_state_history(task_run.id) == []
        assert store.read_flow_run(kept.id) is not None

    # -- concurrency limits ---------------------------------------------------------------------------------
    def test_tag_limits_give_slots_all_or_none(self, store: Store) -> None:
        self._needs("concurrency limits")
        store.set_concurrency_limit("db", 1)
        store.set_concurrency_limit("api", 2)
        run = _flow_run()
        first, second = _task_run(run, "first"), _task_run(run, "second")
        first.tags = second.tags = ("db", "api")
        for task_run in (first, second):
            _moved(task_run, store, Pending())
        store.flush()
        assert sorted(store.acquire_concurrency_slots(first)) == ["api", "db"]  # type: ignore[arg-type]
        refusal = store.acquire_concurrency_slots(second)
        assert not isinstance(refusal, tuple) and refusal.tag == "db"
        [api] = store.read_concurrency_limits("api")
        assert [h.task_run_id for h in api.holders] == [first.id]  # the refused run took no api slot either
        store.release_concurrency_slots(first.id)
        assert sorted(store.acquire_concurrency_slots(second)) == ["api", "db"]  # type: ignore[arg-type]
        assert store.delete_concurrency_limit("db") and not store.delete_concurrency_limit("db")

    # -- artifacts, run requests, schedules ------------------------------------------------------------------
    def test_artifacts_are_kept_by_key_and_run(self, store: Store) -> None:
        self._needs("artifacts")
        from headwater.records import ArtifactRecord

        run = _flow_run()
        _moved(run, store, Pending())
        base = _dt.datetime(2026, 1, 1, tzinfo=_UTC)
        for n in range(3):
            store.write_artifact(ArtifactRecord(
                id=f"artifact-{n}", key="report", type="markdown", data=f"version {n}", flow_run_id=run.id,
                created=base + _dt.timedelta(seconds=n),
            ))
        store.write_artifact(ArtifactRecord(id="table", type="table", data=[{"a": 1}], created=base))
        store.flush()
        assert [a.data for a in store.read_artifacts(key="report")] == ["version 2", "version 1", "version 0"]
        [latest] = store.read_artifacts(latest_only=True)
        assert latest.id == "artifact-2"
        assert len(store.read_artifacts(flow_run_id=run.id)) == 3
        assert [a.data for a in store.read_artifacts() if a.id == "table"] == [[{"a": 1}]]
        assert store.delete_artifacts("report") == 3 and store.read_artifacts(key="report") == []

    def test_a_run_request_is_taken_once(self, store: Store) -> None:
        self._needs("run requests")
        assert not store.take_run_request("some-run", "resume")
        store.add_run_request("some-run", "resume")
        assert store.take_run_request("some-run", "resume") and not store.take_run_request("some-run", "resume")

    def test_schedules_keep_paused_and_a_due_time_is_claimed_once(self, store: Store) -> None:
        self._needs("schedules")
        from headwater.records import ScheduleRecord

        schedule = ScheduleRecord(name="nightly", entrypoint="flows.py:etl", flow_name="etl", spec={"cron": "0 3 * * *"},
                                  parameters={"full": True}, updated=_dt.datetime.now(_UTC))
        store.write_schedule(schedule)
        assert store.set_schedule_paused("nightly", True) and not store.set_schedule_paused("nope", True)
        store.write_schedule(schedule)  # served again: still paused
        [found] = store.read_schedules("nightly")
        assert found.paused and found.parameters == {"full": True} and found.spec == {"cron": "0 3 * * *"}
        due = _dt.datetime(2026, 1, 1, 3, tzinfo=_UTC)
        assert store.claim_schedule_run("nightly", due, "run-1")
        assert not store.claim_schedule_run("nightly", due, "run-2")
        assert store.last_schedule_run("nightly") == due
        store.request_schedule_run("nightly", {"full": False})
        assert store.take_schedule_run_requests("nightly") == [{"full": False}]
        assert store.take_schedule_run_requests("nightly") == []

    # -- crashes found ---------------------------------------------------------------------------------------------
    def test_a_run_of_another_host_is_crashed_when_its_heartbeats_stop(self, store: Store) -> None:
        self._needs("heartbeats")
        from headwater.processes import ProcessIdentity

        an_hour_ago = _dt.datetime.now(_UTC) - _dt.timedelta(hours=1)
        silent, beating = ProcessIdentity("conformance-host-a", 4242, "a:1"), ProcessIdentity("conformance-host-b", 4343, None)
        left, alive = _flow_run("left-behind", process=silent), _flow_run("still-running", process=beating)
        for run in (left, alive):
            _moved(run, store, State(Running().type, "Running", timestamp=an_hour_ago))
        store.record_heartbeat(silent, an_hour_ago.timestamp())
        store.record_heartbeat(beating, _dt.datetime.now(_UTC).timestamp())
        store.flush()
        assert store.mark_crashed_runs() == 1
        crashed, running = store.read_flow_run(left.id), store.read_flow_run(alive.id)
        assert crashed is not None and crashed.state is not None and crashed.state.name == "Crashed"
        assert crashed.state.message is not None and "conformance-host-a" in crashed.state.message and "4242" in crashed.state.message
        assert [s.name for s in store.read_state_history(left.id)] == ["Running", "Crashed"]
        assert running is not None and running.state is not None and running.state.name == "Running"
        assert store.mark_crashed_runs() == 0  # found once

    # -- end to end ----------------------------------------------------------------------------------------------
    def test_a_flow_with_a_retry_and_a_cache_hit_is_recorded_whole(self, store: Store, tmp_path: Path) -> None:
        assert _conformance_flow(str(tmp_path / "marker")) == ("ok", 9, 9)
        store.flush()
        [run] = store.read_flow_runs()
        assert run.state is not None and run.state.name == "Completed"
        by_name = {t.name: t for t in store.read_task_runs(flow_run_id=run.id)}
        states = {name: [s.name for s in store.read_state_history(t.id)] for name, t in by_name.items()}
        flaky = next(name for name in states if name.startswith("_flaky"))
        assert states[flaky] == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]  # the failure became the retry
        cached = sorted(name for name in states if name.startswith("_cached"))
        assert states[cached[0]][-1] == "Completed" and states[cached[1]] == ["Pending", "Cached"]
        for record in by_name.values():  # every row is as of its history's last state
            assert record.state is not None and record.state.name == states[record.name][-1]


def _common_prefix(a: str, b: str) -> str:
    common = ""
    for x, y in zip(a, b):
        if x != y:
            break
        common += x
    return common
