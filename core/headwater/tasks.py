"""``@task``: a function whose calls are orchestrated and recorded as task runs."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import inspect
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Generic, Iterable, Literal, NoReturn, Optional, ParamSpec, TypeVar, Union, overload

from .context import flow_run_context
from .visualization import traced_calls
from .cache_keys import combine_cache_keys, flow_parameters_hash, task_input_hash, task_source_hash
from .exceptions import ConfigurationError, HeadwaterError
from .options import _is_number, check_callable, check_hooks, check_result_options, check_result_storage_key, check_retries, check_run_name, check_tags, check_timeout
from .settings import get_settings
from .states import StateType
from .utilities.annotations import allow_failure, quote, unmapped

if TYPE_CHECKING:
    from .context import FlowRunContext
    from .futures import HeadwaterFuture
    from .runs import TaskRun
    from .states import State

__all__ = [
    "Task",
    "task",
    "task_input_hash",
    "task_source_hash",
    "flow_parameters_hash",
    "combine_cache_keys",
    "exponential_backoff",
    "unmapped",
]


_task_engine_module: Optional[ModuleType] = None


def _task_engine() -> ModuleType:
    """``headwater.task_engine``, imported at the first task call rather than with headwater (it brings asyncio).

    Kept here after that: an import statement in a function costs 1.7 us a call, twice a task
    run. (Not looked up in ``sys.modules``: another thread may find it there half-imported; the
    import statement waits for that thread to finish.)
    """
    global _task_engine_module
    if _task_engine_module is None:
        from . import task_engine

        _task_engine_module = task_engine
    return _task_engine_module


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

RetryDelay = Union[float, int, list[float], list[int], tuple[float, ...], Callable[[int], list[float]], None]
#: ``hook(task, task_run, state)``, called once the run's final state is recorded.
TaskStateHook = Callable[["Task[Any, Any]", "TaskRun", "State"], Any]
#: ``fn(task, task_run, state) -> bool``: whether a failed run that has retries left is retried.
RetryCondition = Callable[["Task[Any, Any]", "TaskRun", "State"], bool]


class exponential_backoff:
    """A ``retry_delay_seconds`` policy: retry ``n`` (counting from 0) waits ``backoff_factor * 2**n`` seconds.

    ``@task(retries=3, retry_delay_seconds=exponential_backoff(10))`` waits 10, 20, then 40 seconds.
    Add ``retry_jitter_factor`` so that many failing runs do not all retry at the same moment.
    """

    def __init__(self, backoff_factor: float) -> None:
        if not _is_number(backoff_factor) or backoff_factor < 0:
            raise ConfigurationError(
                f"exponential_backoff(backoff_factor={backoff_factor!r}): the factor must be a number of seconds, "
                "0 or more (the first retry waits that long, each later one twice as long as the one before)."
            )
        self.backoff_factor = backoff_factor

    def __call__(self, retries: int) -> list[float]:
        return [self.backoff_factor * 2**n for n in range(retries)]

    def __repr__(self) -> str:
        return f"exponential_backoff({self.backoff_factor!r})"


class Task(Generic[P, R]):
    """A task: call it inside a flow to run it now, ``.submit()`` it to the flow's task runner, or ``.map()`` it."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: Optional[str] = None,
        description: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
        version: Optional[str] = None,
        retries: Optional[int] = None,
        retry_delay_seconds: RetryDelay = None,
        retry_jitter_factor: Optional[float] = None,
        cache_key_fn: Union[Callable[..., Any], str, None] = None,
        cache_expiration: Optional[_dt.timedelta] = None,
        refresh_cache: Optional[bool] = None,
        timeout_seconds: Optional[float] = None,
        persist_result: Optional[bool] = None,
        log_prints: Optional[bool] = None,
        retry_condition_fn: Optional[RetryCondition] = None,
        on_completion: Optional[list[TaskStateHook]] = None,
        on_failure: Optional[list[TaskStateHook]] = None,
        task_run_name: Union[str, Callable[[], str], None] = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        result_storage_key: Optional[str] = None,
        cache_result_in_memory: bool = True,
        viz_return_value: Any = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task decorates a function; got {fn!r}")
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description if description is not None else inspect.getdoc(fn)
        self.tags = check_tags(tags, owner=f"task {self.name!r}")
        self.version = version
        if retries is None or retry_delay_seconds is None:
            settings = get_settings()  # Prefect's defaults for tasks that set none: read once, when decorated
            retries = settings.task_default_retries if retries is None else retries
            if retry_delay_seconds is None:
                retry_delay_seconds = settings.task_default_retry_delay_seconds
        self.retries, self.retry_delay_seconds, self.retry_jitter_factor = check_retries(
            retries, retry_delay_seconds, retry_jitter_factor, owner=f"task {self.name!r}"
        )
        # A backoff policy is kept as given, so that with_options(retries=...) works out the delays again.
        self._retry_delay_option = retry_delay_seconds if callable(retry_delay_seconds) else self.retry_delay_seconds
        if retry_condition_fn is not None:
            check_callable(retry_condition_fn, "retry_condition_fn", owner=f"task {self.name!r}")
        self.retry_condition_fn = retry_condition_fn
        self.on_completion_hooks = check_hooks(on_completion, "on_completion", owner=f"task {self.name!r}")
        self.on_failure_hooks = check_hooks(on_failure, "on_failure", owner=f"task {self.name!r}")
        #: The hooks by the final state type that fires them; empty when there are none, so the engine skips them.
        self.state_hooks = {
            state_type: hooks
            for state_type, hooks in ((StateType.COMPLETED, self.on_completion_hooks), (StateType.FAILED, self.on_failure_hooks))
            if hooks
        }
        if cache_key_fn is not None and not isinstance(cache_key_fn, str):
            check_callable(cache_key_fn, "cache_key_fn", owner=f"task {self.name!r}")
        self._cache_key_fn = cache_key_fn
        if cache_expiration is not None and not isinstance(cache_expiration, _dt.timedelta):
            raise ConfigurationError(
                f"task {self.name!r}: cache_expiration={cache_expiration!r} must be a datetime.timedelta, "
                "for example timedelta(minutes=1)."
            )
        self.cache_expiration = cache_expiration
        #: ``None``: as HEADWATER_TASKS_REFRESH_CACHE says when a run is about to start.
        self.refresh_cache = None if refresh_cache is None else bool(refresh_cache)
        self.timeout_seconds = check_timeout(timeout_seconds, owner=f"task {self.name!r}")
        self.persist_result = persist_result
        self.log_prints = log_prints
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        self.task_run_name = check_run_name(task_run_name, "task_run_name", self._signature, owner=f"task {self.name!r}")
        self._result_storage_option, self._result_serializer_option = result_storage, result_serializer
        self.result_storage, self.result_serializer = check_result_options(result_storage, result_serializer, owner=f"task {self.name!r}")
        self.result_storage_key = check_result_storage_key(result_storage_key, owner=f"task {self.name!r}")
        self.cache_result_in_memory = bool(cache_result_in_memory)
        #: What a call returns while ``flow.visualize()`` traces the flow (the task is not run then).
        self.viz_return_value = viz_return_value
        # Choosing where or how results are kept turns their persisting on, unless persist_result says otherwise.
        self._persists_by_default = result_storage is not None or result_serializer is not None or result_storage_key is not None
        params = self._signature.parameters.values()
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self._plain_names = tuple(self._signature.parameters) if plain else None
        # A short stable key for the task's code location: the same in every process.
        qualname = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', self.name)}"
        self.task_key = hashlib.sha256(qualname.encode()).hexdigest()[:16]
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def cache_key_fn(self) -> Optional[Callable[..., Any]]:
        key_fn = self._cache_key_fn
        if isinstance(key_fn, str):
            from .plugins import get_plugins

            found = get_plugins().cache_key_functions.get(key_fn)
            if found is None:
                names = ", ".join(sorted(get_plugins().cache_key_functions.names()))
                raise ConfigurationError(
                    f"task {self.name!r}: cache_key_fn={key_fn!r} names no registered cache-key function; registered: {names}."
                )
            self._cache_key_fn = key_fn = found
        return key_fn

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed."""
        options: dict[str, Any] = dict(
            name=self.name, description=self.description, tags=self.tags, version=self.version,
            retries=self.retries, retry_delay_seconds=self._retry_delay_option,
            retry_jitter_factor=self.retry_jitter_factor, cache_key_fn=self._cache_key_fn,
            cache_expiration=self.cache_expiration, refresh_cache=self.refresh_cache,
            timeout_seconds=self.timeout_seconds, persist_result=self.persist_result, log_prints=self.log_prints,
            retry_condition_fn=self.retry_condition_fn, on_completion=list(self.on_completion_hooks),
            on_failure=list(self.on_failure_hooks), task_run_name=self.task_run_name,
            result_storage=self._result_storage_option, result_serializer=self._result_serializer_option,
            result_storage_key=self.result_storage_key, cache_result_in_memory=self.cache_result_in_memory,
            viz_return_value=self.viz_return_value,
        )
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"with_options() got unknown options: {', '.join(sorted(unknown))}")
        options.update(changes)
        return Task(self.fn, **options)

    # -- running -------------------------------------------------------------------------------
    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self._plain_names
        if names is not None and not kwargs and len(args) == len(names):
            return dict(zip(names, args))  # the common case, without inspect's full binding
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"task {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return bound.arguments

    def _engine(self, parameters: dict[str, Any], wait_for: Optional[list[Any]], flow_ctx: Optional[FlowRunContext]) -> Any:
        if flow_ctx is not None:
            return _task_engine().TaskRunEngine(self, parameters, flow_ctx, flow_ctx.store, flow_ctx.plugins, wait_for)
        from .environment import standalone_environment

        store, plugins = standalone_environment()
        return _task_engine().TaskRunEngine(self, parameters, None, store, plugins, wait_for)

    # Typing: a function without a return annotation returns Any, which would match the coroutine
    # overload below. Any matches NoReturn too, so this one catches it first (and a function
    # that never returns is a sync one).
    @overload
    def __call__(self: Task[P, NoReturn], *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self: Task[P, Coroutine[Any, Any, T]], *args: Any, return_state: Literal[True], **kwargs: Any) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task now and return its value (its final state with ``return_state=True``).

        ``wait_for=[future_or_state, ...]`` runs it once those upstream runs are over, as with ``submit``.
        """
        if not kwargs:
            return self._call(self.bind(args, kwargs), return_state=False)
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        return self._call(self.bind(args, kwargs), return_state, wait_for)

    def _call(self, parameters: dict[str, Any], return_state: bool, wait_for: Optional[list[Any]] = None) -> Any:
        flow_ctx = flow_run_context.get()
        if flow_ctx is None:
            tracer = traced_calls.get()
            if tracer is not None:  # flow.visualize(): the call is recorded, not run
                return tracer.call(self, parameters, wait_for, return_state)
        engine = self._engine(parameters, wait_for, flow_ctx)
        if self.is_async:
            task_engine = _task_engine()

            async def run() -> Any:
                engine.begin()
                state = await task_engine.SubmittedRun(engine).run_async(lambda call: call.run_async())
                return state if return_state else state.result()

            if flow_ctx is not None and not flow_ctx.flow.is_async:
                return task_engine.run_to_end(run)  # called in a sync flow, which cannot await: run it to the end here
            return run()  # the caller awaits it, as with any async function
        state = _task_engine().run_task_now(engine)
        return state if return_state else state.result()

    def call_with_state(self, *args: Any, **kwargs: Any) -> State:
        """Call the task now and return its final state instead of its value."""
        return self._call(self.bind(args, kwargs), return_state=True)

    # Typing: an async task's future holds what its coroutine returns; with wait_for= the
    # arguments are not checked (a ParamSpec cannot take one more keyword).
    @overload
    def submit(self: Task[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs) -> HeadwaterFuture[T]: ...

    @overload
    def submit(self: Task[P, T], *args: P.args, **kwargs: P.kwargs) -> HeadwaterFuture[T]: ...

    @overload
    def submit(
        self: Task[P, Coroutine[Any, Any, T]], *args: Any, wait_for: Iterable[HeadwaterFuture[Any]], **kwargs: Any
    ) -> HeadwaterFuture[T]: ...

    @overload
    def submit(self: Task[P, T], *args: Any, wait_for: Iterable[HeadwaterFuture[Any]], **kwargs: Any) -> HeadwaterFuture[T]: ...

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Hand a run of this task to the flow's task runner; return its future at once.

        ``wait_for=[future, ...]`` makes the run wait for other runs it takes no value from.
        With ``return_state=True`` it waits for the run and returns its final state instead.
        """
        wait_for: Optional[list[Any]] = kwargs.pop("wait_for", None)
        return_state = kwargs.pop("return_state", False) if kwargs else False
        flow_ctx = flow_run_context.get()
        if flow_ctx is None or flow_ctx.task_runner is None:
            tracer = traced_calls.get() if flow_ctx is None else None
            if tracer is not None:  # flow.visualize(): the submission is recorded, not run
                return tracer.record(self.name, self.bind(args, kwargs), wait_for, self.viz_return_value)
            raise HeadwaterError(
                f"task {self.name!r}: .submit() needs a running flow and its task runner; call it inside a @flow "
                "function, or call the task directly."
            )
        # In an async flow the future can be awaited for itself, as Prefect 2's `await task.submit()`.
        future = _task_engine().submit_task(self._engine(self.bind(args, kwargs), wait_for, flow_ctx), flow_ctx)
        if not return_state:
            return future
        future.observed = True  # the caller has the state in hand: its outcome is the caller's to handle
        return future.wait()

    @overload
    def map(self: Task[P, Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> list[HeadwaterFuture[T]]: ...

    @overload
    def map(self: Task[P, T], *args: Any, **kwargs: Any) -> list[HeadwaterFuture[T]]: ...

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Submit one run per element of the iterable arguments; other arguments go to every run.

        Wrap an iterable in ``unmapped(...)`` to pass it whole to every run. An iterable wrapped in
        ``allow_failure(...)`` or ``quote(...)`` is mapped over, each element wrapped the same way.
        A future passed as an iterable is waited for, and its result mapped over.
        ``wait_for=[...]`` applies to every run.
        """
        wait_for: Optional[list[Any]] = kwargs.pop("wait_for", None)
        try:  # the arguments given, not the defaults: a default list is not mapped over
            given = self._signature.bind_partial(*args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"task {self.name!r}: {exc}") from None
        from .futures import HeadwaterFuture

        mapped: dict[str, list[Any]] = {}
        static: dict[str, Any] = {}
        wrapped: dict[str, Any] = {}  # name -> the annotation each element is wrapped in again
        for name, value in given.items():
            if isinstance(value, (allow_failure, quote)):
                wrapped[name] = value
                value = value.unwrap()
            if isinstance(value, unmapped):
                static[name] = value.unwrap()
                continue
            iterable = HeadwaterFuture.result(value) if isinstance(value, HeadwaterFuture) else value
            if _is_mappable(iterable):
                mapped[name] = list(iterable)
            else:
                static[name] = value
        if not mapped:
            raise TypeError(f"task {self.name!r}: .map() needs at least one iterable argument")
        lengths = {name: len(values) for name, values in mapped.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"task {self.name!r}: .map() got iterables of different lengths: "
                + ", ".join(f"{name}={n}" for name, n in lengths.items())
            )
        size = next(iter(lengths.values()))
        futures = []
        for i in range(size):
            parameters = {**static, **{name: values[i] for name, values in mapped.items()}}
            for name, annotation in wrapped.items():
                parameters[name] = annotation.rewrap(parameters[name])
            futures.append(self.submit(**parameters, wait_for=wait_for) if wait_for else self.submit(**parameters))
        flow_ctx = flow_run_context.get()
        tracer = traced_calls.get() if flow_ctx is None else None
        if (flow_ctx is not None and flow_ctx.flow.is_async) or (tracer is not None and tracer.is_async):
            from .futures import FutureList

            return FutureList(futures)  # `await task.map(...)`, as Prefect 2's async flows write it
        return futures

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


def _is_mappable(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict, unmapped, allow_failure, quote)):
        return False
    from .futures import HeadwaterFuture

    if isinstance(value, HeadwaterFuture):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...


@overload
def task(
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    tags: Optional[Iterable[str]] = None,
    version: Optional[str] = None,
    retries: Optional[int] = None,
    retry_delay_seconds: RetryDelay = None,
    retry_jitter_factor: Optional[float] = None,
    cache_key_fn: Union[Callable[..., Any], str, None] = None,
    cache_expiration: Optional[_dt.timedelta] = None,
    refresh_cache: Optional[bool] = None,
    timeout_seconds: Optional[float] = None,
    persist_result: Optional[bool] = None,
    log_prints: Optional[bool] = None,
    retry_condition_fn: Optional[RetryCondition] = None,
    on_completion: Optional[list[TaskStateHook]] = None,
    on_failure: Optional[list[TaskStateHook]] = None,
    task_run_name: Union[str, Callable[[], str], None] = None,
    result_storage: Any = None,
    result_serializer: Any = None,
    result_storage_key: Optional[str] = None,
    cache_result_in_memory: bool = True,
    viz_return_value: Any = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Any = None, **options: Any) -> Any:
    """Make a function a task. Use bare (``@task``) or with options (``@task(retries=2)``)."""
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)
