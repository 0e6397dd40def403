"""headwater's pytest plugin: an isolated home and store per test, and assertions on recorded runs.

Installed with headwater through the ``pytest11`` entry point (named
``headwater``; disable it with ``-p no:headwater``). Nothing is isolated unless
a test asks for it:

* request the ``headwater_home`` fixture (or ``headwater_client``), or
* mark a test (or a module, with ``pytestmark``) ``@pytest.mark.headwater_isolate``, or
* set ``headwater_isolate = true`` in the ``[pytest]`` ini section
  (``[tool.pytest.ini_options]`` in ``pyproject.toml``) to isolate every test.

An isolated test gets its own ``HEADWATER_HOME`` under ``tmp_path`` (so its
own SQLite database and result storage), no inherited ``HEADWATER_*`` store or
plugin-selection settings, and a fresh plugin set in strict mode: a plugin
that fails to load fails the test instead of printing a warning. Stores opened
during the test are closed afterwards.

The assertion helpers read the store the current settings point at, the
test's own when it is isolated::

    from headwater.testing import assert_state_history, latest_flow_run

    def test_etl(headwater_home):
        etl()
        run = latest_flow_run("etl")
        assert_state_history(run, ["Pending", "Running", "Completed"])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

import pytest

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.records import FlowRunRecord, StateRecord

__all__ = ["headwater_home", "headwater_client", "latest_flow_run", "state_history", "assert_state_history", "ISOLATED_SETTINGS"]

INI_OPTION = "headwater_isolate"
MARKER = "headwater_isolate"

# Settings an isolated test never inherits from the environment pytest was started in.
ISOLATED_SETTINGS = (
    "HEADWATER_DATABASE_URL",
    "HEADWATER_LOCAL_STORAGE_PATH",
    "HEADWATER_STORE",
    "HEADWATER_LOAD_PLUGINS",
    "HEADWATER_BLOCK_PLUGINS",
)


# -- hooks -------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        type="bool",
        default=False,
        help="headwater: give every test its own temporary HEADWATER_HOME, store and plugin set.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: give this test its own temporary HEADWATER_HOME, store and plugin set (the headwater_home fixture).",
    )


# headwater writes run log lines from a background thread. Flushing them after each phase of a test
# (setup, call, teardown) puts them in the output pytest captured for that phase.


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        _flush_run_logs()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        _flush_run_logs()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Iterator[None]:
    try:
        return (yield)
    finally:
        _flush_run_logs()


def _flush_run_logs() -> None:
    """Write out run log lines still queued, so they show in the output captured for the test that ran them."""
    import logging

    logger = logging.Logger.manager.loggerDict.get("headwater")
    if isinstance(logger, logging.Logger):
        for handler in logger.handlers:
            handler.flush()


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def headwater_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated headwater home for this test; the value is its folder (created on first use).

    Flows and tasks run in the test record into a fresh SQLite database under
    ``tmp_path``; ``~/.headwater`` and ``HEADWATER_*`` store settings from the
    surrounding environment are left alone. Plugins are loaded afresh, in
    strict mode, and the stores the test opened are closed at the end.
    """
    from headwater.plugins import Plugins, use_plugins
    from headwater.stores import close_stores

    home = tmp_path / "headwater-home"
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    for name in ISOLATED_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    try:
        with use_plugins(Plugins(strict=True)):
            yield home
    finally:
        close_stores()


@pytest.fixture
def headwater_client(headwater_home: Path) -> Client:
    """A :class:`headwater.client.Client` reading this test's isolated store."""
    from headwater.client import get_client

    return get_client()


@pytest.fixture(autouse=True)
def _headwater_isolate(request: pytest.FixtureRequest) -> None:
    """Applies ``headwater_home`` to tests marked ``headwater_isolate``, or to all with the ini option."""
    if request.node.get_closest_marker(MARKER) is not None or request.config.getini(INI_OPTION):
        request.getfixturevalue("headwater_home")


# -- assertion helpers -------------------------------------------------------------------------------


def _client(client: Optional[Client]) -> Client:
    if client is not None:
        return client
    from headwater.client import get_client

    return get_client()


def _run_id(run: Any, client: Client) -> tuple[str, str]:
    """The full id of a run given as a record, a run, a future, an id, a unique id prefix or a flow run's name;
    and a label for messages."""
    from headwater.exceptions import AmbiguousRunId
    from headwater.runs import short_run_id

    if isinstance(run, str):
        try:
            record = client.read_flow_run(run)
        except AmbiguousRunId as exc:
            raise AssertionError(str(exc)) from None
        if record is not None:
            return record.id, f"flow run {record.name!r} of flow {record.flow_name!r} ({short_run_id(record.id)})"
        return run, f"run {run!r}"  # a task run's full id
    if isinstance(getattr(run, "task_run_id", None), str):  # a HeadwaterFuture: its task run
        run = run.task_run
    run_id = getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise TypeError(f"expected a run id, a run name, a flow or task run (or its record) or a future; got {run!r}")
    name = getattr(run, "name", None)
    if hasattr(run, "flow_name"):
        return run_id, f"flow run {name!r} of flow {run.flow_name!r} ({short_run_id(run_id)})"
    if hasattr(run, "task_name"):
        return run_id, f"task run {name!r} of task {run.task_name!r} ({short_run_id(run_id)})"
    return run_id, f"run {name or run_id!r}"


def latest_flow_run(flow: Union[str, Any], *, client: Optional[Client] = None) -> FlowRunRecord:
    """The newest recorded run of a flow, given by name or as the ``@flow`` object.

    Raises ``AssertionError`` naming the flows that do have runs when it has none.
    """
    reader = _client(client)
    flow_name = flow if isinstance(flow, str) else getattr(flow, "name", None)
    if not isinstance(flow_name, str):
        raise TypeError(f"latest_flow_run() takes a flow name or a @flow; got {flow!r}")
    records = reader.read_flow_runs(flow_name=flow_name, limit=1)
    if not records:
        others = sorted({record.flow_name for record in reader.read_flow_runs(limit=1000)})
        recorded = ", ".join(repr(name) for name in others) if others else "none"
        raise AssertionError(f"no recorded run of flow {flow_name!r}; flows with runs in this store: {recorded}")
    return records[0]


def state_history(run: Any, *, client: Optional[Client] = None) -> list[StateRecord]:
    """Every state a flow run or task run went through, oldest first.

    ``run`` is a record or run object, a future, a run id, a unique prefix of a
    flow run's id, or a flow run's name.
    """
    reader = _client(client)
    run_id, _ = _run_id(run, reader)
    return reader.read_state_history(run_id)


def assert_state_history(run: Any, expected: Sequence[str], *, client: Optional[Client] = None) -> None:
    """Assert that a run went through exactly the states named in ``expected`` (state names, in order).

    For example ``assert_state_history(run, ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"])``.
    The failure message shows both sequences and the message of each state.
    """
    if isinstance(expected, str):
        raise TypeError(f"expected is a list of state names, not the string {expected!r}")
    reader = _client(client)
    run_id, label = _run_id(run, reader)
    history = reader.read_state_history(run_id)
    actual = [state.name for state in history]
    if actual == list(expected):
        return
    if not history:
        raise AssertionError(
            f"{label} has no recorded states in this store (no flow run has that id, id prefix or name, "
            f"and no task run that id); expected {' -> '.join(expected) or 'none'}"
        )
    lines = [
        f"{label}: state history differs",
        f"  actual:   {' -> '.join(actual)}",
        f"  expected: {' -> '.join(expected)}",
        "  states (! where they differ):",
    ]
    for number, state in enumerate(history):
        mark = " " if number < len(expected) and expected[number] == state.name else "!"
        lines.append(f"    {mark} {state.name}" + (f": {state.message}" if state.message else ""))
    for missing in list(expected)[len(history):]:
        lines.append(f"    ! (no state; expected {missing})")
    raise AssertionError("\n".join(lines))
