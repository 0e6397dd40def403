"""The life of a flow run: a state machine like the task run's, with a sync and an async driver."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Generator, Optional

from . import heartbeats
from .context import FlowRunContext, flow_run_context, logs_prints, task_run_context
from .environment import standalone_environment
from .exceptions import ParameterError
from .futures import HeadwaterFuture, wait, wait_async
from .interrupts import is_interrupt, sigterm_raises
from .logs import RunLogger, prints_to, reset_print, write_queued_lines
from .names import generate_run_name
from .progress import start_progress, stop_progress
from .results import jsonable_parameters
from .runs import FlowRun
from .settings import last_settings
from .states import RUNNING, Cancelled, Completed, Failed, State
from .drivers import drive_async, drive_sync
from .engine import RunEngine
from .timeouts import await_with_timeout, call_with_timeout

if TYPE_CHECKING:
    from .flows import Flow
    from .task_runners import TaskRunner

__all__ = ["FlowRunEngine", "run_flow_sync", "run_flow_async"]

flow_logger = logging.getLogger("headwater.flow_runs")


#: ``(id, name, created)`` of a flow run recorded before it started (Scheduled, by ``headwater serve``):
#: the next top-level flow run in this context takes them instead of new ones.
recorded_run: contextvars.ContextVar[Optional[tuple[str, str, _dt.datetime]]] = contextvars.ContextVar(
    "headwater_recorded_run", default=None
)


class FlowRunEngine(RunEngine):
    """The orchestration of one flow run."""

    run: FlowRun
    awaits_others_after_attempt = True  # an attempt's outcome counts the task runs it submitted

    def __init__(self, flow: Flow, parameters: dict[str, Any]) -> None:
        self.flow = self.subject = flow
        self._lock = threading.Lock()
        # Validated before the run is recorded, so that the record holds the coerced values
        # (a SecretStr parameter is recorded masked); a failure is recorded as the run's outcome.
        self.parameter_error: Optional[ParameterError] = None
        try:
            parameters = flow.validate(parameters)
        except ParameterError as exc:
            self.parameter_error = exc
            parameters = {name: ("**********" if name in flow.secret_parameters() else value) for name, value in parameters.items()}
        self.parameters = parameters
        parent = flow_run_context.get()
        if parent is not None:
            store, plugins = parent.store, parent.plugins
        else:
            store, plugins = standalone_environment()
        self.store = store
        self.policy = plugins.policy
        self.listener = plugins.flow_state_listener
        from .context import current_tags

        calling_task = task_run_context.get()  # a subflow called inside a task run
        recorded = recorded_run.get() if parent is None else None
        self.run = FlowRun(
            name=generate_run_name(),
            flow_name=flow.name,
            flow_version=flow.version,
            parameters=jsonable_parameters(parameters),
            tags=current_tags(),
            parent_flow_run_id=parent.flow_run.id if parent is not None else None,
            parent_task_run_id=calling_task.task_run.id if calling_task is not None else None,
        )
        if recorded is not None:  # a run recorded before it started (a scheduled one): this is that run
            recorded_run.set(None)
            self.run.id, self.run.name, self.run.created = recorded
        # Lines are stored under the top-level flow run, so that one query reads a run and everything under it.
        top_level_id = parent.logger.flow_run_id if parent is not None else self.run.id
        self.logger = RunLogger(flow_logger, f"Flow run '{self.run.name}'", self.run.id, top_level_id, store)
        self.task_runner: TaskRunner = flow.resolve_task_runner(plugins)
        self.context = FlowRunContext(flow, self.run, store, plugins, self.logger, self.task_runner)
        self.context.parameters = parameters
        self.context.pause = self.pause
        self.context.log_prints = logs_prints(flow.log_prints, parent)
        if flow.flow_run_name is not None:
            self._name_run()

    def _name_run(self) -> None:
        """Give the run the name its flow's ``flow_run_name`` makes, within the run's context (for ``headwater.runtime``)."""
        from .names import custom_run_name

        tokens = flow_run_context.set(self.context), task_run_context.set(None)
        try:
            name = custom_run_name(self.flow.flow_run_name, self.parameters, "flow_run_name", f"flow {self.flow.name!r}")
        finally:
            task_run_context.reset(tokens[1])
            flow_run_context.reset(tokens[0])
        self.run.name = name
        self.logger.relabel(f"Flow run '{name}'")

    def begin(self) -> None:
        if self.run.parent_flow_run_id is None:  # the process is heard from while it runs (a subflow is inside its run)
            heartbeats.hold(self.store)
        self._begin_pending()
        self.logger.info("Beginning flow run '%s' for flow '%s'", self.run.name, self.flow.name)
        start_progress(self.context)

    def steps(self) -> Generator[Any, Any, State]:
        if self.parameter_error is not None:
            self.logger.error("%s", self.parameter_error)
            state = yield from self._propose(Failed(str(self.parameter_error), data=self.parameter_error))
            return self._finished(state, None)

        self.logger.info("Using task runner '%s'", type(self.task_runner).__name__)
        return (yield from self._attempts())

    def _before_attempt(self) -> None:
        self.context.futures = []
        if RUNNING in self.flow.state_hooks:  # on_running, on each attempt
            assert self.run.state is not None
            self._call_state_hooks(self.run.state)

    def _completed(self, value: Any) -> State:
        if isinstance(value, State) and value.run_id is None and value.is_final():
            return self._returned_by_hand(value)
        value, returned = _returned_states(value)
        if returned is not None and not returned.is_completed():
            return returned  # the flow returned a state that did not complete: the run ends in it
        futures = self.context.futures
        unhandled = [f for f in futures if not f.observed and not f.state.is_completed()]
        if unhandled:
            first = unhandled[0].state
            return Failed(f"{len(unhandled)}/{len(futures)} states failed.", data=first.result(raise_on_failure=False))
        message = "All states completed."
        persist = self.flow.persist_result
        if persist is None:
            persist = self.flow._persists_by_default or last_settings().results_persist_by_default
        if persist:
            return self._persisted(value, message)
        return Completed(message, data=value)

    def _returned_by_hand(self, state: State) -> State:
        """The flow returned a state it made (``return Completed(message=...)``): as in Prefect, the run ends in it,
        whatever its task runs did. A completed one's data (``None`` if it has none) is the flow's result."""
        for future in self.context.futures:
            future.observed = True  # the flow decided its outcome itself
        if not state.is_completed():
            return state.copy(timestamp=_dt.datetime.now(_dt.timezone.utc))
        value = state.data if state.has_data() else None
        persist = self.flow.persist_result
        if persist is None:
            persist = self.flow._persists_by_default or last_settings().results_persist_by_default
        final = self._persisted(value, state.message) if persist else Completed(state.message, data=value)
        if final.is_completed():
            final.name = state.name
        return final

    # -- pausing -----------------------------------------------------------------------------------
    def pause(self, timeout: float, poll_interval: float) -> None:
        """Record the run Paused, wait (in the flow's thread) until another process asks it to resume
        through the store, then record it running again; raise ``FlowPauseTimeout`` at the timeout."""
        from .exceptions import FlowPauseTimeout
        from .states import Paused, Resuming

        run_id = self.run.id
        self.store.take_run_request(run_id, "resume")  # one left from an earlier pause of this run does not count
        until = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=timeout)
        self._enter_now(Paused(f"Waiting to be resumed, until {until.isoformat(timespec='seconds')}.", pause_expiration_time=until))
        self.store.flush()  # so that other processes see it Paused (and may resume it)
        self.logger.info("Paused. Resume it with `headwater runs resume %s` (it fails if not resumed in %gs).", run_id, timeout)
        deadline = time.monotonic() + timeout
        while not self.store.take_run_request(run_id, "resume"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise FlowPauseTimeout(f"Flow run '{self.run.name}' was paused and not resumed within {timeout:g} seconds.")
            time.sleep(min(poll_interval, left))
        self._enter_now(Resuming("Resumed."))
        self.logger.info("Resumed.")

    def _enter_now(self, state: State) -> None:
        """Propose ``state`` from the flow function's thread (no rule delays a flow run's Paused or Resuming)."""
        for _ in self._propose(state):
            pass

    # -- calling the flow function -----------------------------------------------------------------
    def call_sync(self) -> Any:
        token = prints_to(self.logger if self.context.log_prints else None)
        try:
            return call_with_timeout(self.flow.fn, self.parameters, self.flow.timeout_seconds)
        finally:
            if token is not None:
                reset_print(token)

    async def call_async(self) -> Any:
        token = prints_to(self.logger if self.context.log_prints else None)
        try:
            return await await_with_timeout(self.flow.fn, self.parameters, self.flow.timeout_seconds)
        finally:
            if token is not None:
                reset_print(token)

    def wait_for_tasks(self) -> None:
        wait(self.context.futures)

    async def wait_for_tasks_async(self) -> None:
        await wait_async(self.context.futures)

    def _cancel_others(self, message: str) -> None:
        for future in self.context.futures:
            if not future.done():
                future.cancel_run(message)

    def finish(self) -> None:
        """Records of a top-level run reach the database, and its log lines stderr, before its caller gets the result."""
        stop_progress(self.context)
        if self.run.parent_flow_run_id is None:
            heartbeats.release(self.store)
            write_queued_lines()
            self.store.flush()


def _returned_states(value: Any) -> tuple[Any, Optional[State]]:
    """What a flow that returned states or futures ends with, as in Prefect: ``(result, state to end in)``.

    A single state or future stands for the run's outcome: its value is the flow's result, and a
    state that did not complete is the flow's final state. A list, tuple or set made only of states
    and futures is the flow's result as states; if some did not complete, the flow fails
    ("1/3 states failed."), or is cancelled if one was. Anything else is a plain value.
    """
    if isinstance(value, (State, HeadwaterFuture)):
        state = _state_of(value)
        if state.is_completed():
            return state.result(), None
        if not state.is_final():
            return None, Failed(f"The flow returned a {state.name} state, which has not finished; return a final state or a value.")
        return None, state.copy(timestamp=_dt.datetime.now(_dt.timezone.utc), storage_key=None)
    if not isinstance(value, (list, tuple, set, frozenset)) or not value:
        return value, None
    if not all(isinstance(item, (State, HeadwaterFuture)) for item in value):
        return value, None
    states = [_state_of(item) for item in value]
    # The same kind of collection back, holding states (a tuple subclass, such as a named tuple, as a plain tuple).
    kind = list if isinstance(value, list) else tuple if isinstance(value, tuple) else type(value)
    result = kind(states)
    unfinished = [s for s in states if not s.is_completed()]
    if not unfinished:
        return result, None
    what = f"{len(unfinished)}/{len(states)} states"
    if any(s.is_cancelled() for s in unfinished):
        return result, Cancelled(f"{what} cancelled.", data=result)
    first_error = next((s.result(raise_on_failure=False) for s in unfinished if s.is_failed() or s.is_crashed()), None)
    return result, Failed(f"{what} failed.", data=first_error if first_error is not None else result)


def _state_of(item: State | HeadwaterFuture) -> State:
    if isinstance(item, State):
        return item
    item.observed = True  # returned: the flow's outcome accounts for it
    state = HeadwaterFuture.wait(item)  # (not item.wait(): an awaited async flow's future would give a coroutine)
    assert state is not None  # the flow's attempt waited for every future it submitted
    return state


def _interrupts(engine: FlowRunEngine) -> contextlib.AbstractContextManager[None]:
    # A top-level run makes SIGTERM an interrupt like Ctrl-C; a subflow is inside one already.
    return sigterm_raises() if engine.run.parent_flow_run_id is None else contextlib.nullcontext()


def _record_interrupt(engine: FlowRunEngine, error: BaseException) -> None:
    # Ctrl-C or SIGTERM outside the flow function (waiting for its tasks, sleeping before a retry):
    # the run and its unfinished task runs are recorded Cancelled before the runner is stopped.
    if is_interrupt(error):
        engine.interrupted(error)


def _enter(engine: FlowRunEngine) -> tuple[Any, Any]:
    # No task run is in progress inside a flow run, not even in a subflow called by a task:
    # get_run_logger() in its body is the subflow's.
    return flow_run_context.set(engine.context), task_run_context.set(None)


def _exit(tokens: tuple[Any, Any]) -> None:
    flow_token, task_token = tokens
    task_run_context.reset(task_token)
    flow_run_context.reset(flow_token)


def run_flow_sync(engine: FlowRunEngine) -> State:
    engine.begin()
    tokens = _enter(engine)
    try:
        with _interrupts(engine), engine.task_runner:
            try:
                return drive_sync(engine.steps(), engine.call_sync, engine.wait_for_tasks)
            except BaseException as exc:
                _record_interrupt(engine, exc)
                raise
    except Exception as exc:  # the flow's own errors never get here: they are states
        return engine.crash(exc)
    finally:
        _exit(tokens)
        engine.finish()


async def run_flow_async(engine: FlowRunEngine) -> State:
    engine.begin()
    tokens = _enter(engine)
    try:
        with _interrupts(engine), engine.task_runner:
            try:
                return await drive_async(engine.steps(), engine.call_async, engine.wait_for_tasks_async)
            except BaseException as exc:
                _record_interrupt(engine, exc)
                raise
    except Exception as exc:
        return engine.crash(exc)
    finally:
        _exit(tokens)
        engine.finish()
