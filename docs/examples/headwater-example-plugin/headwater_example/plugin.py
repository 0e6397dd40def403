"""The plugin: headwater's hook implementations, one of each kind, found through the ``headwater`` entry point.

``pyproject.toml`` names this module in the ``headwater`` entry-point group::

    [project.entry-points.headwater]
    example = "headwater_example.plugin"

headwater imports it the first time a process runs a flow or a task (or a CLI
command), registers it, and calls its hooks. The registration hooks
(``register_*``) are called once: they hand headwater the objects that do the
work, and headwater calls those objects directly from then on. The event hooks
(``on_*``) are called at every state change.

A function is a hook implementation when it is marked ``@hookimpl`` and named
after a hook. ``specname=`` lets a function with another name implement a hook,
which is how one module implements the same hook twice, or gives its
implementation a name that says what it does.
"""

from __future__ import annotations

from headwater import hookimpl

from . import audit
from .cache_keys import inputs_and_data_version
from .input_hashers import function_by_code
from .rules import FailFast, MaintenanceWindow
from .runner import TimedTaskRunner
from .store import MemoryStore

# -- registration hooks -------------------------------------------------------------------------


@hookimpl
def register_task_runners(register):
    register(TimedTaskRunner)  # by its `name`: @flow(task_runner="timed")


@hookimpl
def register_result_stores(register):
    register(MemoryStore)  # by its `name`: HEADWATER_STORE=memory


@hookimpl
def register_cache_key_functions(register):
    register(inputs_and_data_version)  # by its __name__: @task(cache_key_fn="inputs_and_data_version")


@hookimpl
def register_input_hashers(register):
    register(function_by_code)  # asked by task_input_hash about values it cannot hash itself


# tryfirst: these rules come before the default ones (and before the rules of plugins
# without tryfirst). Both may refuse to let a task run start; deciding that first
# means no later rule does work for a run that will not start: no cache lookup, no
# concurrency slot taken and held while the run waits. Within one implementation,
# rules keep the order in which they are registered: a run that fail-fast is going
# to cancel does not wait for the maintenance window first.
@hookimpl(specname="register_orchestration_rules", tryfirst=True)
def register_rules_that_refuse_to_start(register):
    register(FailFast())
    register(MaintenanceWindow())


# -- event hooks --------------------------------------------------------------------------------


@hookimpl
def on_flow_run_state_change(flow_run, old_state, new_state):
    audit.append_line(flow_run, old_state, new_state)


@hookimpl
def on_task_run_state_change(task_run, old_state, new_state):
    audit.append_line(task_run, old_state, new_state)
