"""The life of a task run: :meth:`TaskRunEngine.steps` is its state machine (see :mod:`headwater.drivers`)."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator, Optional

from .drivers import AWAIT_OTHERS, drive_async, drive_sync
from .engine import RunEngine
from .context import FlowRunContext, TaskRunContext, current_tags, flow_run_context, logs_prints, task_run_context
from .exceptions import UpstreamFailedError
from .futures import AsyncFlowFuture, HeadwaterFuture, wait, wait_async
from .inputs import collect_inputs, resolve
from .logs import RunLogger, prints_to, reset_print
from .results import jsonable_parameters
from .runs import TaskRun
from .settings import last_settings
from .states import Completed, State, UpstreamFailed
from .timeouts import await_with_timeout, call_with_timeout

if TYPE_CHECKING:
    from .plugins import Plugins
    from .remote import RemoteRunContext
    from .stores import Store
    from .tasks import Task

__all__ = ["TaskRunEngine", "TaskCall", "SubmittedRun"]

task_logger = logging.getLogger("headwater.task_runs")


def run_to_end(coroutine_function: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to its end from sync code, on a new loop (in a thread of its own if this one has a loop)."""
    import asyncio  # only async tasks and hooks need it: not imported with headwater
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_function())  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="headwater-async") as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()  # type: ignore[arg-type]


class TaskCall:
    """What a runner executes: the task's function and its arguments, upstream values filled in."""

    __slots__ = ("task", "fn", "kwargs", "context", "flow_context", "timeout_seconds", "upstream")

    def __init__(
        self,
        task: Task,
        kwargs: dict[str, Any],
        context: TaskRunContext,
        flow_context: Optional[FlowRunContext],
        timeout_seconds: Optional[float],
        upstream: Optional[dict[str, str]] = None,
    ) -> None:
        self.task = task
        self.fn = task.fn
        self.kwargs = kwargs
        self.context = context
        #: Set on the worker thread too, so that a task called inside this task joins the flow run.
        self.flow_context = flow_context
        self.timeout_seconds = timeout_seconds
        #: Parameter name -> id of the task run whose future was passed as that parameter.
        self.upstream = upstream or {}

    def with_native(self, native: dict[str, Any]) -> dict[str, Any]:
        """The arguments, with each upstream value the runner still holds on its engine (by task run id) swapped in.

        An out-of-process runner keeps big results on its engine (a Dask future, a Ray object ref);
        a downstream task then gets them from there instead of from the flow's process.
        """
        swapped = None
        for name, run_id in self.upstream.items():
            handle = native.get(run_id)
            if handle is not None:
                if swapped is None:
                    swapped = dict(self.kwargs)
                swapped[name] = handle
        return self.kwargs if swapped is None else swapped

    def remote_context(self) -> RemoteRunContext:
        """The run's context for a worker in another process: picklable, plain values only.

        A runner that ships the call elsewhere sends it with the function and its arguments, and on
        the worker calls the function through :meth:`headwater.remote.RemoteRunContext.call`.
        """
        from .remote import RemoteRunContext

        ctx = self.context
        run, logger = ctx.task_run, ctx.logger
        return RemoteRunContext(
            run.id, run.name, run.flow_run_id, logger.flow_run_id, logs_prints(self.task.log_prints, self.flow_context),
            logger.logger.getEffectiveLevel(),
        )

    @property
    def is_async(self) -> bool:
        return self.task.is_async

    def pickling_error(self, engine: str) -> Optional[TypeError]:
        """For a runner that pickles calls to other processes: an error naming what cannot be pickled, if anything.

        Call it once sending the call failed; it pickles each argument, then the function, to find the culprit.
        """
        import cloudpickle

        def fails(value: Any) -> Optional[Exception]:
            try:
                cloudpickle.dumps(value)
            except Exception as exc:
                return exc
            return None

        for name, value in self.kwargs.items():
            problem = fails(value)
            if problem is not None:
                return TypeError(
                    f"Task {self.task.name!r}: argument {name!r} (a {type(value).__module__}.{type(value).__qualname__}) "
                    f"cannot be pickled to send it to {engine}: {problem}. Pass something picklable (a path, a "
                    "connection string) and open the resource inside the task, or use a runner that runs tasks in "
                    "this process ('concurrent')."
                )
        problem = fails(self.fn)
        if problem is not None:
            return TypeError(
                f"Task {self.task.name!r}: its function cannot be pickled to send it to {engine}: {problem}. "
                "A function that refers to unpicklable globals (locks, open connections) cannot run on workers."
            )
        return None

    def _enter(self) -> tuple[Any, Any, Any]:
        ctx = self.context
        # (a task with log_prints=False in a flow that logs prints sends them to stdout again)
        print_token = prints_to(ctx.logger if logs_prints(self.task.log_prints, self.flow_context) else None)
        return task_run_context.set(ctx), print_token, flow_run_context.set(self.flow_context)

    def _exit(self, tokens: tuple[Any, Any, Any]) -> None:
        task_token, print_token, flow_token = tokens
        if print_token is not None:
            reset_print(print_token)
        flow_run_context.reset(flow_token)
        task_run_context.reset(task_token)

    def run_sync(self) -> Any:
        """Call the function here, with the run's context (``get_run_logger``, ``log_prints``, timeout).

        An async function is run to its end on an event loop of its own.
        """
        if self.task.is_async:
            return run_to_end(self.run_async)
        tokens = self._enter()
        try:
            return call_with_timeout(self.fn, self.kwargs, self.timeout_seconds)
        finally:
            self._exit(tokens)

    async def run_async(self) -> Any:
        tokens = self._enter()
        try:
            return await await_with_timeout(self.fn, self.kwargs, self.timeout_seconds)
        finally:
            self._exit(tokens)


class TaskRunEngine(RunEngine):
    """The orchestration of one task run."""

    run: TaskRun

    def __init__(
        self,
        task: Task,
        parameters: dict[str, Any],
        flow_ctx: Optional[FlowRunContext],
        store: Store,
        plugins: Plugins,
        wait_for: Optional[list[HeadwaterFuture]] = None,
    ) -> None:
        self.task = self.subject = task
        self._lock = threading.Lock()
        self.parameters = parameters
        self.flow_ctx = flow_ctx
        self.store = store
        self.policy = plugins.policy
        self.listener = plugins.task_state_listener
        #: What the arguments depend on (futures, states, annotations); None when they are plain values.
        self.inputs = collect_inputs(parameters, wait_for)
        self.upstream: list[HeadwaterFuture] = self.inputs.futures if self.inputs is not None else []
        dynamic_key = flow_ctx.next_dynamic_key(task.task_key) if flow_ctx is not None else 0
        extra_tags = current_tags()
        tags = tuple(dict.fromkeys(task.tags + extra_tags)) if extra_tags else task.tags
        self.run = TaskRun(
            name=f"{task.name}-{task.task_key[:8]}-{dynamic_key}",
            task_name=task.name,
            task_key=task.task_key,
            flow_run_id=flow_ctx.flow_run.id if flow_ctx is not None else None,
            parameters=parameters,
            tags=tags,
            dynamic_key=dynamic_key,
        )
        if self.inputs is not None:
            self.run.upstream_task_run_ids = self.inputs.upstream_run_ids()
        flow_run_id = flow_ctx.logger.flow_run_id if flow_ctx is not None else None
        self.logger = RunLogger(task_logger, f"Task run '{self.run.name}'", self.run.id, flow_run_id, store)
        if flow_ctx is not None:
            self.context = TaskRunContext(task, self.run, flow_ctx.flow_run, self.logger, flow_ctx.parameters, parameters)
        else:
            self.context = TaskRunContext(task, self.run, None, self.logger, None, parameters)
        if task.task_run_name is not None and self.inputs is None:
            self._name_run()  # now: every line and record has the name (with upstream runs, once they are done)

    def _in_context(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` within the run's context, for user code outside the task's body that reads ``headwater.runtime``."""
        tokens = task_run_context.set(self.context), flow_run_context.set(self.flow_ctx)
        try:
            return fn(*args)
        finally:
            flow_run_context.reset(tokens[1])
            task_run_context.reset(tokens[0])

    def _name_run(self) -> None:
        """Give the run the name its task's ``task_run_name`` makes, within the run's context (for ``headwater.runtime``)."""
        from .names import custom_run_name

        self.context.parameters = self.parameters
        name = self._in_context(custom_run_name, self.task.task_run_name, self.parameters, "task_run_name", f"task {self.task.name!r}")
        self.run.name = name
        self.logger.relabel(f"Task run '{name}'")

    def begin(self) -> None:
        """Record the run as Pending: done at once, on the caller's thread, so a future has an id and a record."""
        self.run.parameters = jsonable_parameters(self.parameters) if self.parameters else {}
        if self.flow_ctx is not None:
            self.flow_ctx.logger.engine_info("Created task run '%s' for task '%s'", self.run.name, self.task.name)
        self._begin_pending()

    # -- the state machine --------------------------------------------------------------------
    def steps(self) -> Generator[Any, Any, State]:
        inputs = self.inputs
        if inputs is not None:
            if inputs.futures:
                yield AWAIT_OTHERS
            unready = inputs.unready()
            if unready is not None:
                what, upstream = unready
                message = f"{what} finished in state {upstream.short()}."
                state = yield from self._propose(UpstreamFailed(message, data=UpstreamFailedError(message)))
                return self._finished(state, None)
            self.parameters = self.context.parameters = {name: resolve(value) for name, value in self.parameters.items()}
            if self.task.task_run_name is not None:
                self._name_run()  # with the upstream values

        self.run.cache_key = self._cache_key()
        return (yield from self._attempts())

    def wait_for_upstream(self) -> None:
        wait(self.upstream)

    async def wait_for_upstream_async(self) -> None:
        await wait_async(self.upstream)

    def call(self) -> TaskCall:
        inputs = self.inputs
        upstream = inputs.by_parameter if inputs is not None else None
        return TaskCall(self.task, self.parameters, self.context, self.flow_ctx, self.task.timeout_seconds, upstream)

    def _cache_key(self) -> Optional[str]:
        key_fn = self.task.cache_key_fn
        if key_fn is None:
            return None
        try:
            key = key_fn(self.context, self.parameters)
        except Exception as exc:
            self.logger.warning(
                "The cache_key_fn of task '%s' raised %s: %s; the task runs without a cache.",
                self.task.name, type(exc).__name__, exc,
            )
            return None
        return None if key is None else str(key)

    def _result_options(self) -> tuple[Any, Any]:
        """The task's ``result_storage`` and ``result_serializer``, each the flow's where the task sets none (as in Prefect)."""
        task = self.task
        storage, serializer = task.result_storage, task.result_serializer
        flow_ctx = self.flow_ctx
        if flow_ctx is not None:
            if storage is None:
                storage = flow_ctx.flow.result_storage
            if serializer is None:
                serializer = flow_ctx.flow.result_serializer
        return storage, serializer

    def _result_path(self) -> Optional[str]:
        template = self.task.result_storage_key
        if template is None:
            return None
        from . import runtime

        try:
            path = self._in_context(
                lambda: template.format(parameters=self.parameters, flow_run=runtime.flow_run, task_run=runtime.task_run)
            )
        except (KeyError, AttributeError, IndexError) as exc:
            raise ValueError(f"result_storage_key={template!r} cannot be filled in ({type(exc).__name__}: {exc})") from None
        if ".." in path.split("/") or not path.strip("/"):
            raise ValueError(f"result_storage_key={template!r} gives {path!r}, which is not a path under the result storage")
        return path

    def _completed(self, value: Any) -> State:
        persist = self.task.persist_result
        if persist is None:
            persist = self.run.cache_key is not None or self.task._persists_by_default or last_settings().results_persist_by_default
        if not persist:
            return Completed(data=value)
        return self._persisted(value)

class SubmittedRun:
    """A task run handed to a runner: it can be driven here (``run_sync``) or as a coroutine (``run_async``)."""

    __slots__ = ("engine",)

    def __init__(self, engine: TaskRunEngine) -> None:
        self.engine = engine

    @property
    def task_run(self) -> TaskRun:
        return self.engine.run

    @property
    def task(self) -> Task:
        return self.engine.task

    def inputs_ready(self) -> bool:
        """Whether every run this one waits for has finished (so driving it will not block on them)."""
        return all(f.done() for f in self.engine.upstream)

    def run_sync(self) -> State:
        """Drive the run to its end on this thread, calling the function here."""
        engine = self.engine
        try:
            return drive_sync(engine.steps(), lambda: engine.call().run_sync(), engine.wait_for_upstream)
        except Exception as exc:  # the task's own errors never get here: they are states
            return engine.crash(exc)
        except BaseException as exc:  # Ctrl-C while it waited or slept: recorded Cancelled, then passed on
            engine.interrupted(exc)
            raise

    async def run_async(self, execute: Callable[[TaskCall], Awaitable[Any]]) -> State:
        """Drive the run as a coroutine; ``execute`` calls the function wherever the runner chooses."""
        engine = self.engine
        try:
            return await drive_async(engine.steps(), lambda: execute(engine.call()), engine.wait_for_upstream_async)
        except Exception as exc:
            return engine.crash(exc)
        except BaseException as exc:  # the runner cancelled it (its flow run was interrupted)
            engine.interrupted(exc)
            raise


def run_task_now(engine: TaskRunEngine) -> State:
    """A direct call: begin and drive the run on this thread."""
    engine.begin()
    return SubmittedRun(engine).run_sync()


def submit_task(engine: TaskRunEngine, flow_ctx: FlowRunContext) -> HeadwaterFuture:
    engine.begin()
    runner = flow_ctx.task_runner
    assert runner is not None
    kind = AsyncFlowFuture if flow_ctx.flow.is_async else HeadwaterFuture
    future: HeadwaterFuture[Any] = kind(engine.run, runner.submit(SubmittedRun(engine)), engine)
    flow_ctx.futures.append(future)
    return future
