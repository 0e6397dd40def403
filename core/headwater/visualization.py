"""``Flow.visualize()``: the graph of a flow's task calls, drawn without running them (Prefect 2's).

The flow's function is called with its tasks traced instead of run: each call, ``submit`` and
``map`` of a task (and each subflow call) becomes a node, and returns a placeholder (or the task's
``viz_return_value``) that the flow passes on. A node's upstream nodes are found by the engine's
own rule (:func:`headwater.inputs.collect_inputs`): placeholders among the arguments at any depth
or in ``wait_for``, ``quote(...)`` not looked into; a ``viz_return_value`` passed on links too.

The graph is a :class:`TaskGraph`: nodes, edges, and Graphviz DOT text (``to_dot()``), which needs
nothing installed. Drawing it (``render()``, what ``visualize()`` does) needs the ``graphviz``
package and Graphviz's ``dot`` program, and only then imports them.

Code of the flow function outside tasks still runs while it is traced, as in Prefect.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Optional

from .exceptions import HeadwaterError
from .states import PENDING, State

if TYPE_CHECKING:
    from .flows import Flow
    from .tasks import Task

__all__ = ["TaskGraph", "TracedRun", "VisualizationError", "GraphvizNotInstalled", "task_graph", "traced_calls"]

#: The tracer of the ``visualize()`` in progress in this context, or ``None`` (task calls run as usual).
traced_calls: contextvars.ContextVar[Optional[_Tracer]] = contextvars.ContextVar("headwater_traced_calls", default=None)


class VisualizationError(HeadwaterError):
    """The flow could not be traced (it used a task's value that only a run would have)."""


class GraphvizNotInstalled(VisualizationError, ImportError):
    """Drawing the graph needs the graphviz package and Graphviz's ``dot`` program."""


class TracedRun(State):
    """What a traced task call returns instead of running: a stand-in that the flow can pass to other tasks.

    It answers as a future and as a state do (``wait()``, ``state``, ``is_completed()``, ``await``);
    its ``result()`` is the task's ``viz_return_value``, and an error without one.
    """

    __slots__ = ()

    def __init__(self, node: str, has_value: bool, value: Any) -> None:
        super().__init__(PENDING, "Traced", data=value if has_value else _NO_VALUE)
        self.run_id = node

    def result(self, raise_on_failure: bool = True, fetch: Optional[bool] = None) -> Any:
        if self.data is _NO_VALUE:
            raise VisualizationError(
                f"The flow uses the value of task run {self.run_id!r} while it is traced for visualize(); tasks do "
                "not run then. Give the task a stand-in value with @task(viz_return_value=...)."
            )
        return self.data

    # As a future of the flow would.
    def wait(self, timeout: Optional[float] = None) -> TracedRun:
        return self

    def get_state(self) -> TracedRun:
        return self

    @property
    def state(self) -> TracedRun:
        return self

    @property
    def task_run_id(self) -> Optional[str]:
        return self.run_id

    def done(self) -> bool:
        return True

    def __await__(self) -> Any:
        return _ready(self).__await__()

    def __repr__(self) -> str:
        return f"TracedRun({self.run_id!r})"


_NO_VALUE: Any = object()


async def _ready(value: Any) -> Any:
    return value


class TaskGraph:
    """The traced calls of one flow: ``nodes`` (labels, in call order) and ``edges`` (upstream, downstream)."""

    def __init__(self, name: str, nodes: list[str], edges: list[tuple[str, str]]) -> None:
        self.name = name
        self.nodes = nodes
        self.edges = edges

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text (for ``dot -Tpng``, or any tool that reads DOT)."""
        lines = [f"digraph {_quoted(self.name)} {{", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
        lines += [f"    {_quoted(node)};" for node in self.nodes]
        lines += [f"    {_quoted(upstream)} -> {_quoted(downstream)};" for upstream, downstream in self.edges]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, filename: Optional[str] = None, format: str = "png", view: bool = True) -> Any:
        """Draw the graph with graphviz into ``filename.format`` (the flow's name by default) and open it
        (``view``); in a notebook, show it instead. Returns the ``graphviz.Source``."""
        try:
            import graphviz
        except ImportError:
            raise GraphvizNotInstalled(
                "Drawing the task graph needs the graphviz package (`pip install graphviz`) and Graphviz's `dot` "
                "program (`apt-get install graphviz`, `brew install graphviz`, or graphviz.org/download). "
                "Without them, flow.visualize() cannot draw; headwater.visualization.task_graph(flow).to_dot() "
                "gives the graph as DOT text."
            ) from None
        source = graphviz.Source(self.to_dot())
        if _in_notebook():
            from IPython.display import display

            display(source)
            return source
        try:
            source.render(filename=filename or self.name, format=format, view=view, cleanup=True)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotInstalled(
                "The graphviz package is installed, but Graphviz's `dot` program is not on PATH: install it "
                "(`apt-get install graphviz`, `brew install graphviz`, or graphviz.org/download). "
                "headwater.visualization.task_graph(flow).to_dot() gives the graph as DOT text without it."
            ) from None
        return source

    def __repr__(self) -> str:
        return f"TaskGraph({self.name!r}, {len(self.nodes)} nodes, {len(self.edges)} edges)"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in_notebook() -> bool:
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _Tracer:
    """The calls recorded while a flow function is traced."""

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.nodes: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self._counts: dict[str, int] = {}
        #: id of a viz_return_value handed out -> its node (with the value, so the id stays its own).
        self._values: dict[int, tuple[str, Any]] = {}

    def record(self, name: str, parameters: dict[str, Any], wait_for: Optional[list[Any]], viz_value: Any) -> Any:
        """Add a node for a call of ``name``; return its stand-in (``viz_value`` when the task has one)."""
        from .inputs import collect_inputs

        count = self._counts.get(name, 0)
        self._counts[name] = count + 1
        node = f"{name}-{count}"
        inputs = collect_inputs(parameters, wait_for)
        upstream = list(inputs.upstream_run_ids()) if inputs is not None else []
        upstream += self._linked_values(parameters, wait_for)
        self.nodes.append(node)
        self.edges += [(up, node) for up in dict.fromkeys(upstream) if up != node]
        if viz_value is None:  # (as in Prefect, None is no stand-in value)
            return TracedRun(node, False, None)
        if _trackable(viz_value):
            self._values[id(viz_value)] = (node, viz_value)
        return viz_value

    def _linked_values(self, parameters: dict[str, Any], wait_for: Optional[list[Any]]) -> list[str]:
        if not self._values:
            return []
        from .utilities.annotations import BaseAnnotation, quote

        found: list[str] = []

        def look(value: Any, depth: int) -> None:
            linked = self._values.get(id(value))
            if linked is not None and linked[1] is value:
                found.append(linked[0])
            if depth > 20 or isinstance(value, quote):
                return
            if isinstance(value, BaseAnnotation):
                look(value.unwrap(), depth + 1)
            elif isinstance(value, dict):
                for item in value.values():
                    look(item, depth + 1)
            elif isinstance(value, (list, tuple, set, frozenset)):
                for item in value:
                    look(item, depth + 1)

        for value in parameters.values():
            look(value, 0)
        for value in wait_for or ():
            look(value, 0)
        return found

    def call(self, task: Task, parameters: dict[str, Any], wait_for: Optional[list[Any]], return_state: bool) -> Any:
        """A traced direct call: the stand-in, awaitable when the task is async (as its call would be)."""
        result = self.record(task.name, parameters, wait_for, task.viz_return_value)
        if return_state and not isinstance(result, TracedRun):
            result = TracedRun(self.nodes[-1], True, result)
        return _ready(result) if task.is_async else result


def _trackable(value: Any) -> bool:
    """Whether a value can stand for one task: not a singleton or a small int that any code may hold."""
    if value is None or isinstance(value, bool) or value is Ellipsis or value is NotImplemented:
        return False
    return not (type(value) is int and -5 <= value <= 256)


def task_graph(flow: Flow, *args: Any, **kwargs: Any) -> TaskGraph:
    """Trace ``flow`` called with these parameters (its tasks not run) and return the graph of its task calls."""
    if traced_calls.get() is not None:
        raise VisualizationError("visualize() was called while another flow is traced; trace one flow at a time.")
    parameters = flow.bind(args, kwargs)
    tracer = _Tracer(flow.is_async)

    async def traced_async() -> Any:
        token = traced_calls.set(tracer)  # here: run_to_end may run it on a thread of its own
        try:
            return await flow.fn(**parameters)  # type: ignore[misc]
        finally:
            traced_calls.reset(token)

    token = traced_calls.set(tracer)
    try:
        if flow.is_async:
            from .task_engine import run_to_end

            run_to_end(traced_async)
        else:
            flow.fn(**parameters)
    except VisualizationError:
        raise
    except Exception as exc:
        raise VisualizationError(
            f"flow {flow.name!r} raised {type(exc).__name__}: {exc} while traced for visualize() (its tasks "
            "return stand-ins then: give a task @task(viz_return_value=...) if the flow uses its value)."
        ) from exc
    finally:
        traced_calls.reset(token)
    return TaskGraph(flow.name, tracer.nodes, tracer.edges)
