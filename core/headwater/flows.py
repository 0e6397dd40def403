"""``@flow``: a function whose calls are flow runs, with their task runs recorded under them."""

from __future__ import annotations

import functools
import hashlib
import inspect
import typing
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Generic, Literal, NoReturn, Optional, ParamSpec, TypeVar, Union, overload

from .exceptions import ConfigurationError, ParameterError
from .options import check_callable, check_hooks, check_result_options, check_retries, check_run_name, check_timeout
from .settings import get_settings
from .states import StateType
from .visualization import traced_calls

if TYPE_CHECKING:
    from .plugins import Plugins
    from .runs import FlowRun
    from .states import State
    from .task_runners import TaskRunner

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_COMPUTE: Any = object()

RetryDelay = Union[float, int, list[float], list[int], tuple[float, ...], Callable[[int], list[float]], None]
#: ``hook(flow, flow_run, state)``, called once the run's final state is recorded.
FlowStateHook = Callable[["Flow[Any, Any]", "FlowRun", "State"], Any]
#: ``fn(flow, flow_run, state) -> bool``: whether a failed run that has retries left is retried.
FlowRetryCondition = Callable[["Flow[Any, Any]", "FlowRun", "State"], bool]


async def _awaitable(value: Any) -> Any:
    return value


def _file_version(fn: Callable[..., Any]) -> Optional[str]:
    """A stable hash of the file that defines ``fn``; ``None`` where there is no file."""
    try:
        path = inspect.getsourcefile(fn)
        if path is None:
            return None
        with open(path, "rb") as source:
            return hashlib.md5(source.read(), usedforsecurity=False).hexdigest()
    except (OSError, TypeError):
        return None


class Flow(Generic[P, R]):
    """A flow: calling it creates a flow run, runs the function and returns its value."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: Optional[str] = None,
        description: Optional[str] = None,
        version: Optional[str] = None,
        task_runner: Union[TaskRunner, type, str, None] = None,
        retries: Optional[int] = None,
        retry_delay_seconds: RetryDelay = None,
        retry_jitter_factor: Optional[float] = None,
        timeout_seconds: Optional[float] = None,
        log_prints: Optional[bool] = None,
        validate_parameters: bool = True,
        persist_result: Optional[bool] = None,
        retry_condition_fn: Optional[FlowRetryCondition] = None,
        on_completion: Optional[list[FlowStateHook]] = None,
        on_failure: Optional[list[FlowStateHook]] = None,
        on_cancellation: Optional[list[FlowStateHook]] = None,
        on_crashed: Optional[list[FlowStateHook]] = None,
        on_running: Optional[list[FlowStateHook]] = None,
        flow_run_name: Union[str, Callable[[], str], None] = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        cache_result_in_memory: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow decorates a function; got {fn!r}")
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        owner = f"flow {self.name!r}"
        self.description = description if description is not None else inspect.getdoc(fn)
        self._version = version if version is not None else _COMPUTE
        if retries is None or retry_delay_seconds is None:
            settings = get_settings()  # Prefect's defaults for flows that set none: read once, when decorated
            retries = settings.flow_default_retries if retries is None else retries
            if retry_delay_seconds is None:
                retry_delay_seconds = settings.flow_default_retry_delay_seconds
        self.retries, self.retry_delay_seconds, self.retry_jitter_factor = check_retries(
            retries, retry_delay_seconds, retry_jitter_factor, owner=owner
        )
        # A backoff policy is kept as given, so that with_options(retries=...) works out the delays again.
        self._retry_delay_option = retry_delay_seconds if callable(retry_delay_seconds) else self.retry_delay_seconds
        if retry_condition_fn is not None:
            check_callable(retry_condition_fn, "retry_condition_fn", owner=owner)
        self.retry_condition_fn = retry_condition_fn
        self.on_completion_hooks = check_hooks(on_completion, "on_completion", owner)
        self.on_failure_hooks = check_hooks(on_failure, "on_failure", owner)
        self.on_cancellation_hooks = check_hooks(on_cancellation, "on_cancellation", owner)
        self.on_crashed_hooks = check_hooks(on_crashed, "on_crashed", owner)
        self.on_running_hooks = check_hooks(on_running, "on_running", owner)
        #: The hooks by the state type that fires them (on_running: each attempt; the others: the final state);
        #: empty when there are none, so the engine skips them.
        self.state_hooks = {
            state_type: hooks
            for state_type, hooks in (
                (StateType.COMPLETED, self.on_completion_hooks),
                (StateType.FAILED, self.on_failure_hooks),
                (StateType.CANCELLED, self.on_cancellation_hooks),
                (StateType.CRASHED, self.on_crashed_hooks),
                (StateType.RUNNING, self.on_running_hooks),
            )
            if hooks
        }
        self.timeout_seconds = check_timeout(timeout_seconds, owner=owner)
        self.log_prints = log_prints
        self.validate_parameters = validate_parameters
        self.persist_result = persist_result
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        self.flow_run_name = check_run_name(flow_run_name, "flow_run_name", self._signature, owner)
        self._result_storage_option, self._result_serializer_option = result_storage, result_serializer
        self.result_storage, self.result_serializer = check_result_options(result_storage, result_serializer, owner=owner)
        self.cache_result_in_memory = bool(cache_result_in_memory)
        # Choosing where or how results are kept turns their persisting on, unless persist_result says otherwise.
        self._persists_by_default = result_storage is not None or result_serializer is not None
        self._adapters: Optional[dict[str, Any]] = None
        self._check_task_runner(task_runner)
        self.task_runner = task_runner
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def version(self) -> Optional[str]:
        if self._version is _COMPUTE:
            self._version = _file_version(self.fn)
        return self._version

    def _check_task_runner(self, runner: Any) -> None:
        from .task_runners import TaskRunner

        if runner is None or isinstance(runner, (TaskRunner, str)):
            return
        if isinstance(runner, type) and issubclass(runner, TaskRunner):
            return
        raise ConfigurationError(
            f"flow {self.name!r}: task_runner={runner!r} must be a TaskRunner instance, a TaskRunner class, "
            "or the name of a registered runner such as 'sequential' or 'concurrent'."
        )

    def resolve_task_runner(self, plugins: Plugins) -> TaskRunner:
        """A fresh runner for one flow run."""
        from .task_runners import ConcurrentTaskRunner, TaskRunner

        runner = self.task_runner
        if runner is None:
            return ConcurrentTaskRunner()
        if isinstance(runner, str):
            return plugins.task_runner_class(runner)()
        if isinstance(runner, TaskRunner):
            return runner.duplicate()
        return runner()

    # -- parameters -------------------------------------------------------------------------
    def _parameter_adapters(self) -> dict[str, Any]:
        if self._adapters is None:
            try:
                hints = typing.get_type_hints(self.fn)
            except Exception:
                hints = {}
            adapters = {}
            for name, param in self._signature.parameters.items():
                hint = hints.get(name)
                if hint is None or hint is Any or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                # Only here, for a hint to check: pydantic costs a process 0.1-0.2 s to import and set up.
                from pydantic import ConfigDict, TypeAdapter

                try:
                    adapters[name] = (TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True)), hint)
                except Exception:
                    try:
                        adapters[name] = (TypeAdapter(hint), hint)  # pydantic models refuse a config of their own
                    except Exception:
                        continue  # a hint pydantic cannot check is left unchecked
            self._adapters = adapters
        return self._adapters

    def secret_parameters(self) -> set[str]:
        """Names of the parameters annotated as secrets (pydantic's SecretStr or SecretBytes): never recorded as given."""
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:
            return set()
        return {name for name, hint in hints.items() if getattr(hint, "__name__", "") in ("SecretStr", "SecretBytes")}

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce parameters against the type hints; raise ParameterError naming the parameter."""
        if not self.validate_parameters:
            return parameters
        adapters = self._parameter_adapters()
        if not adapters:
            return parameters
        from pydantic import ValidationError

        validated = dict(parameters)
        for name, (adapter, hint) in adapters.items():
            if name not in validated:
                continue
            try:
                validated[name] = adapter.validate_python(validated[name])
            except ValidationError as exc:
                problems = "; ".join(error["msg"] for error in exc.errors())
                shown = "(a secret, not shown)" if name in self.secret_parameters() else repr(validated[name])
                raise ParameterError(
                    f"Flow {self.name!r} got a bad value for parameter {name!r}: {shown} ({problems}). "
                    f"Pass a value that fits the type hint {getattr(hint, '__name__', None) or hint!r}, "
                    "or set validate_parameters=False on the flow."
                ) from None
        return validated

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(f"Flow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    # -- calling -----------------------------------------------------------------------------
    # Typing: a function without a return annotation returns Any, which would match the coroutine
    # overload below. Any matches NoReturn too, so this one catches it first (and a function
    # that never returns is a sync one).
    @overload
    def __call__(self: Flow[P, NoReturn], *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self: Flow[P, Coroutine[Any, Any, T]], *args: Any, return_state: Literal[True], **kwargs: Any) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:  # type: ignore[misc]
        from .flow_engine import FlowRunEngine, run_flow_async, run_flow_sync

        tracer = traced_calls.get()
        if tracer is not None:  # a subflow called while visualize() traces its parent: a node, not a run
            traced = tracer.record(self.name, self.bind(args, kwargs), None, None)
            return _awaitable(traced) if self.is_async else traced
        engine = FlowRunEngine(self, self.bind(args, kwargs))
        if self.is_async:
            async def run() -> Any:
                state = await run_flow_async(engine)
                return state if return_state else state.result()

            return run()
        state = run_flow_sync(engine)
        return state if return_state else state.result()

    def visualize(self, *args: Any, **kwargs: Any) -> Any:
        """Draw the graph of this flow's task calls, called with these parameters, without running the tasks.

        The flow's function runs with each task call, ``submit`` and ``map`` recorded instead of run
        (returning a stand-in, or the task's ``viz_return_value``); the graph is drawn with graphviz
        into ``<flow name>.png`` and opened (shown, in a notebook). Needs the graphviz package and
        Graphviz's ``dot``; :func:`headwater.visualization.task_graph` gives the graph (and its DOT
        text) without them. Returns the :class:`~headwater.visualization.TaskGraph`.
        """
        from .visualization import task_graph

        graph = task_graph(self, *args, **kwargs)
        graph.render()
        return graph

    # -- serving on a schedule (a layer on top: headwater.serving) ---------------------------------
    def serve(
        self, name: Optional[str] = None, *, cron: Optional[str] = None, interval: Any = None,
        parameters: Optional[dict[str, Any]] = None, timezone: Optional[str] = None, **options: Any,
    ) -> None:
        """Run this flow on a schedule (exactly one of ``cron`` and ``interval``, in seconds or a
        timedelta) until Ctrl-C or SIGTERM; ``name`` (default: the flow's) names the schedule.

        Options: ``in_process`` (default False: each run in a child process), ``missed``
        (``"latest"``, ``"none"``, ``"all"``), ``overlap`` (``"skip"``, ``"allow"``),
        ``late_after``, ``jitter`` and ``shutdown_timeout`` in seconds. See :mod:`headwater.serving`.
        """
        from .serving import serve

        serve(self, name, cron=cron, interval=interval, parameters=parameters, timezone=timezone, **options)

    # -- Prefect's deployments, which need its server ----------------------------------------------
    def deploy(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available: a deployment is kept by Prefect's server. Serve the flow (``Flow.serve``) or call it."""
        from ._server_only import not_available

        not_available("Flow.deploy", "Serve the flow on a schedule with flow.serve(...) or `headwater serve FILE.py:FLOW`, or call it from a script; its runs are recorded in the store all the same.")

    def to_deployment(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available: a deployment is kept by Prefect's server."""
        from ._server_only import not_available

        not_available("Flow.to_deployment", "Serve the flow on a schedule with flow.serve(...) or `headwater serve FILE.py:FLOW`, or call it from a script; its runs are recorded in the store all the same.")

    @classmethod
    def from_source(cls, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available: Prefect pulls the code for a deployment's workers. Import the flow's module instead."""
        from ._server_only import not_available

        not_available("Flow.from_source", "Import the module that defines the flow (clone or install it first), and call the flow.")

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed."""
        options: dict[str, Any] = dict(
            name=self.name, description=self.description, version=None if self._version is _COMPUTE else self._version,
            task_runner=self.task_runner, retries=self.retries, retry_delay_seconds=self._retry_delay_option,
            retry_jitter_factor=self.retry_jitter_factor, timeout_seconds=self.timeout_seconds,
            log_prints=self.log_prints, validate_parameters=self.validate_parameters, persist_result=self.persist_result,
            retry_condition_fn=self.retry_condition_fn, on_completion=list(self.on_completion_hooks),
            on_failure=list(self.on_failure_hooks), on_cancellation=list(self.on_cancellation_hooks),
            on_crashed=list(self.on_crashed_hooks), on_running=list(self.on_running_hooks), flow_run_name=self.flow_run_name,
            result_storage=self._result_storage_option, result_serializer=self._result_serializer_option,
            cache_result_in_memory=self.cache_result_in_memory,
        )
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"with_options() got unknown options: {', '.join(sorted(unknown))}")
        options.update(changes)
        return Flow(self.fn, **options)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    version: Optional[str] = None,
    task_runner: Union[TaskRunner, type, str, None] = None,
    retries: Optional[int] = None,
    retry_delay_seconds: RetryDelay = None,
    retry_jitter_factor: Optional[float] = None,
    timeout_seconds: Optional[float] = None,
    log_prints: Optional[bool] = None,
    validate_parameters: bool = True,
    persist_result: Optional[bool] = None,
    retry_condition_fn: Optional[FlowRetryCondition] = None,
    on_completion: Optional[list[FlowStateHook]] = None,
    on_failure: Optional[list[FlowStateHook]] = None,
    on_cancellation: Optional[list[FlowStateHook]] = None,
    on_crashed: Optional[list[FlowStateHook]] = None,
    on_running: Optional[list[FlowStateHook]] = None,
    flow_run_name: Union[str, Callable[[], str], None] = None,
    result_storage: Any = None,
    result_serializer: Any = None,
    cache_result_in_memory: bool = True,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow. Use bare (``@flow``) or with options (``@flow(name="etl", retries=1)``)."""
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)


# Prefect 2 code writes `flow.from_source(...)` on the decorator itself.
flow.from_source = Flow.from_source  # type: ignore[attr-defined]
