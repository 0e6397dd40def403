"""The hook specifications: every way a plugin can extend headwater.

A plugin is a module (or any object) with functions named after these hooks and
decorated with ``@headwater.hookimpl``; it is found through the ``headwater``
entry-point group. An implementation may accept any subset of a hook's
arguments.

There are two kinds of hooks:

* **Registration hooks** (``register_*``) are called once, when headwater loads
  its plugins. Each receives a ``register`` callback and hands the core objects
  that do the work: task runner classes, store classes, cache-key functions,
  orchestration rules. headwater calls those objects directly afterwards, never
  through pluggy, so a plugin adds nothing to the cost of a task run.
  ``register(obj, name=None)`` names each object (by default from its ``name``
  attribute or its ``__name__``) and refuses a name that another plugin already
  registered, with an error naming both.

* **Event hooks** (``on_*``) are called as runs change state, for observability
  plugins. headwater checks once per run whether any plugin listens, so an
  unused event hook costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from .runs import FlowRun, TaskRun
    from .states import State

hookspec = pluggy.HookspecMarker("headwater")
hookimpl = pluggy.HookimplMarker("headwater")

Register = Callable[..., None]


# -- registration hooks -------------------------------------------------------------


@hookspec
def register_task_runners(register: Register) -> None:
    """Register task runner classes.

    :param register: call ``register(RunnerClass)`` for each subclass of
        :class:`headwater.task_runners.TaskRunner`. Its ``name`` class
        attribute is the name users pass as ``@flow(task_runner="name")``.

    A runner only executes task functions; states, retries, caching and
    records stay in the flow's process.
    """


@hookspec
def register_result_stores(register: Register) -> None:
    """Register stores: where run records, states, cache entries and result payloads are kept.

    :param register: call ``register(StoreClass)`` for each subclass of
        :class:`headwater.stores.Store`. Its ``name`` class attribute is the
        value of the ``HEADWATER_STORE`` setting that selects it (the default
        is ``"sqlite"``). headwater builds it with ``StoreClass.from_settings(settings)``.
    """


@hookspec
def register_cache_key_functions(register: Register) -> None:
    """Register cache-key functions, usable by name as ``@task(cache_key_fn="name")``.

    :param register: call ``register(fn, name=...)``; ``fn(context, parameters)``
        returns the cache key (a string, or something whose ``str()`` is the key),
        or ``None`` for "do not cache this run". ``context`` is a
        :class:`headwater.context.TaskRunContext`; ``parameters`` the dict of
        bound arguments.
    """


@hookspec
def register_input_hashers(register: Register) -> None:
    """Register input hashers: teach ``task_input_hash`` to hash a type of value by what it means.

    :param register: call ``register(fn, name=...)`` (the name defaults to
        ``fn.__name__``). ``fn(value)`` returns a form of ``value`` that is equal
        for equal values in every process: JSON-like data (``None``, ``bool``,
        ``int``, ``float``, ``str``, lists, tuples and dicts of them) or
        ``bytes``. It returns ``NotImplemented`` or ``None`` for a value it does
        not handle, and the next hasher is asked.

    ``task_input_hash`` asks the hashers only about values it cannot put in
    canonical form itself (anything but plain data, enums, dates, decimals,
    UUIDs, paths, dataclasses and pydantic models), so they cost nothing for
    the others. A value no hasher handles is hashed by its cloudpickle, as
    before. The form is tagged with the value's type, so it cannot collide with
    a plain value of the same shape. A hasher that raises makes the task run
    without a cache, with a warning naming the hasher.
    """


@hookspec
def register_orchestration_rules(register: Register) -> None:
    """Register orchestration rules: the policy every proposed state change passes through.

    :param register: call ``register(rule)`` with an instance of a subclass of
        :class:`headwater.orchestration.OrchestrationRule`.

    Rules run in the order of the hook implementations (pluggy calls later
    registered plugins first; mark an implementation ``tryfirst=True`` or
    ``trylast=True`` to move it), and within one implementation in the order
    they were registered. ``headwater plugins ls`` prints the resulting order.
    """


@hookspec
def register_commands(register: Register) -> None:
    """Register commands of the ``headwater`` command line: ``headwater <name> ...``.

    :param register: call ``register(command)`` with a :class:`click.Command` (or a
        :class:`click.Group` for a command with subcommands). Its ``name`` is the
        word users type after ``headwater``; ``register(command, name="...")``
        gives another. A name a built-in command or another plugin already uses
        is refused with an error naming both.

    Unlike the other registration hooks, this one is called only when the
    command line needs its commands (``headwater --help``, or a word that is not
    a built-in command), never in a process that only runs flows: build the
    command inside the implementation, so that importing the plugin's module
    stays light.
    """


# -- event hooks ----------------------------------------------------------------------


@hookspec
def on_flow_run_state_change(flow_run: FlowRun, old_state: State | None, new_state: State) -> None:
    """Called after a flow run's state changed and was recorded.

    :param flow_run: the run, with ``id``, ``name``, ``flow_name``, ``parameters``, ``tags``.
    :param old_state: the state it left, ``None`` for the first state.
    :param new_state: the state it entered.

    Called in the flow's process, on the thread that made the change; keep it quick.
    An exception raised here is logged and otherwise ignored.
    """


@hookspec
def on_task_run_state_change(task_run: TaskRun, old_state: State | None, new_state: State) -> None:
    """Called after a task run's state changed and was recorded.

    :param task_run: the run, with ``id``, ``name``, ``task_name``, ``flow_run_id``, ``tags``.
    :param old_state: the state it left, ``None`` for the first state.
    :param new_state: the state it entered.

    Called in the flow's process, on the thread that made the change; keep it quick.
    An exception raised here is logged and otherwise ignored.
    """


def hook_names() -> list[str]:
    """The names of every hook specified here, in the order they are documented."""
    return [name for name, value in globals().items() if callable(value) and hasattr(value, "headwater_spec")]


__all__ = ["hookspec", "hookimpl", "hook_names"] + hook_names()
