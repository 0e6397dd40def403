"""The names users import are pinned: changing them is a decision, not an accident."""

import subprocess
import sys

import headwater


def test_top_level_exports():
    assert sorted(headwater.__all__) == sorted(
        ["__version__", "flow", "task", "Flow", "Task", "get_run_logger", "tags", "unmapped", "allow_failure", "exponential_backoff", "pause_flow_run", "resume_flow_run", "suspend_flow_run", "State", "StateType", "hookimpl"]
    )
    for name in headwater.__all__:
        assert getattr(headwater, name) is not None


def test_pinned_module_names():
    from headwater.client import get_client  # noqa: F401
    from headwater.futures import wait  # noqa: F401
    from headwater.states import (  # noqa: F401
        AwaitingRetry, Cached, Cancelled, Completed, Crashed, Failed, Pending, Retrying, Running, State, StateType, TimedOut,
    )
    from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner, TaskRunner  # noqa: F401
    from headwater.tasks import (  # noqa: F401
        combine_cache_keys, exponential_backoff, flow_parameters_hash, task_input_hash, task_source_hash,
    )


def test_import_loads_no_heavy_dependency():
    # `import headwater` stays cheap: the store, pydantic, pluggy and anyio load on first use.
    code = (
        "import sys, headwater\n"
        "heavy = [m for m in ('pydantic', 'pluggy', 'anyio', 'cloudpickle', 'headwater_sqlite') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
