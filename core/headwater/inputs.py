"""A task run's arguments: the upstream runs they depend on, and their values once those are done.

A task's argument may be a future (``task.submit(...)``) or a state (``task(..., return_state=True)``),
at any depth of lists, tuples, sets and dicts, or wrapped in an annotation of
:mod:`headwater.utilities.annotations`. The engine collects what the arguments depend on when the
run is made (:class:`Inputs`), waits for the futures, and then resolves each argument to the value
the function gets (:func:`resolve`): a future or a state becomes its result, ``allow_failure(x)``
the result or the exception of ``x``, ``quote(x)`` the value ``x`` itself, untouched.
"""

from __future__ import annotations

from typing import Any, Optional

from .futures import HeadwaterFuture
from .states import State
from .utilities.annotations import BaseAnnotation, allow_failure, quote

__all__ = ["Inputs", "collect_inputs", "resolve"]

_CONTAINERS = (list, tuple, set, frozenset, dict)
#: What an argument must be for it to be looked into (anything else is passed as it is).
_LOOKED_INTO = (HeadwaterFuture, State, BaseAnnotation, *_CONTAINERS)
#: How deep in nested collections futures are looked for (a guard against a collection that holds itself).
MAX_DEPTH = 100


class Inputs:
    """What a run's arguments (and its ``wait_for``) depend on."""

    __slots__ = ("futures", "states", "allowed", "by_parameter", "needs_resolving")

    def __init__(self) -> None:
        #: The futures to wait for, each once, in the order found.
        self.futures: list[HeadwaterFuture] = []
        #: States passed as arguments (already final; a failed one stops the run like a failed future).
        self.states: list[State] = []
        #: ids of the futures and states wrapped in ``allow_failure``: the run goes on if they failed.
        self.allowed: set[int] = set()
        #: Parameter name -> id of the task run whose future was passed as that parameter itself.
        self.by_parameter: dict[str, str] = {}
        #: Whether any argument must be resolved before the call (a future, a state, an annotation).
        self.needs_resolving = False

    def add_parameter(self, name: str, value: Any) -> None:
        if isinstance(value, HeadwaterFuture):
            self.by_parameter[name] = value.task_run.id
        self.add(value)

    def add(self, value: Any, allowed: bool = False, depth: int = 0) -> None:
        """Collect the futures and states in ``value`` (a ``wait_for`` item, or an argument)."""
        if isinstance(value, HeadwaterFuture):
            self.futures.append(value)
        elif isinstance(value, State):
            self.states.append(value)
        elif isinstance(value, BaseAnnotation):
            self.needs_resolving = True
            if isinstance(value, quote):
                return  # not looked into
            self.add(value.unwrap(), allowed or isinstance(value, allow_failure), depth)
            return
        elif depth < MAX_DEPTH and isinstance(value, _CONTAINERS):
            for item in value.values() if isinstance(value, dict) else value:
                self.add(item, allowed, depth + 1)
            return
        else:
            return
        self.needs_resolving = True
        if allowed:
            self.allowed.add(id(value))

    def upstream_run_ids(self) -> tuple[str, ...]:
        """The ids of the runs the futures and then the states belong to, each once."""
        ids = [future.task_run.id for future in self.futures]
        ids += [state.run_id for state in self.states if state.run_id is not None]
        return tuple(dict.fromkeys(ids))

    def unready(self) -> Optional[tuple[str, State]]:
        """The first upstream that did not complete and is not allowed to fail: its description and state."""
        allowed = self.allowed
        for future in self.futures:
            state = future.state
            if not state.is_completed() and not (state.is_failed() and id(future) in allowed):
                return f"Upstream task run '{future.task_run.name}'", state
        for state in self.states:
            if not state.is_completed() and not (state.is_failed() and id(state) in allowed):
                return "An upstream state", state
        return None


def collect_inputs(parameters: dict[str, Any], wait_for: Optional[list[Any]]) -> Optional[Inputs]:
    """What the arguments and ``wait_for`` depend on; ``None`` when they are all plain values (the common case,
    which makes no objects: one ``isinstance`` a parameter)."""
    inputs = None
    for name, value in parameters.items():
        if isinstance(value, _LOOKED_INTO):
            if inputs is None:
                inputs = Inputs()
            inputs.add_parameter(name, value)
    if wait_for:
        if inputs is None:
            inputs = Inputs()
        for item in wait_for:
            inputs.add(item)
    if inputs is not None and not inputs.needs_resolving and not inputs.futures:
        return None  # plain collections
    return inputs


def resolve(value: Any, allowed: bool = False, depth: int = 0) -> Any:
    """The value a function gets for ``value``, once every future in it is done."""
    if isinstance(value, HeadwaterFuture):
        return value.state.result(raise_on_failure=not allowed)
    if isinstance(value, State):
        return value.result(raise_on_failure=not allowed)
    if isinstance(value, BaseAnnotation):
        if isinstance(value, quote):
            return value.unwrap()
        return resolve(value.unwrap(), allowed or isinstance(value, allow_failure), depth)
    if depth < MAX_DEPTH:
        if isinstance(value, dict):
            return {key: resolve(item, allowed, depth + 1) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [resolve(item, allowed, depth + 1) for item in value]
            if isinstance(value, tuple) and hasattr(value, "_fields"):
                return type(value)(*items)  # a named tuple takes its fields one by one
            return type(value)(items)
    return value
