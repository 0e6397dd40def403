"""What the flow run and task run engines share: proposing states and turning errors into states."""

from __future__ import annotations

import datetime as _dt
import inspect
import logging
import os
import threading
import traceback
from typing import TYPE_CHECKING, Any, Generator, Optional

from .drivers import AWAIT_OTHERS, EXECUTE, Wait
from .exceptions import ResultSerializationError
from .interrupts import describe_interrupt, is_interrupt
from .orchestration import TransitionContext, commit_state, seconds_until
from .results import dumps_result, storage_key_for
from .states import PENDING, RUNNING, SCHEDULED, Cancelled, Completed, Crashed, Failed, Retrying, Running, State, StateType, TimedOut
from .timeouts import RunTimeout

if TYPE_CHECKING:
    from .logs import RunLogger
    from .orchestration import Policy
    from .runs import FlowRun, TaskRun
    from .stores import Store

__all__ = ["RunEngine", "format_user_traceback"]

#: The option of ``@flow``/``@task`` whose hooks a final state type fires.
_HOOK_OPTIONS = {
    StateType.COMPLETED: "on_completion",
    StateType.FAILED: "on_failure",
    StateType.CANCELLED: "on_cancellation",
    StateType.CRASHED: "on_crashed",
    StateType.RUNNING: "on_running",
}

def _default_serializer() -> Any:
    """The serializer ``HEADWATER_RESULTS_DEFAULT_SERIALIZER`` names, or None (headwater picks per value)."""
    from .settings import last_settings

    name = last_settings().results_default_serializer
    if name is None:
        return None
    from .serializers import get_serializer

    return get_serializer(name)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frames(tb: Any) -> Any:
    while tb is not None:
        frame = tb.tb_frame
        # headwater's own frames, and any frame (a runner plugin's) that sets __tracebackhide__ as pytest does.
        hidden = frame.f_code.co_filename.startswith(_PACKAGE_DIR) or frame.f_locals.get(
            "__tracebackhide__", frame.f_globals.get("__tracebackhide__", False)
        )
        if not hidden:
            yield frame, tb.tb_lineno
        tb = tb.tb_next


def format_user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without headwater's own frames: the user's code is what matters."""
    stack = traceback.StackSummary.extract(_user_frames(error.__traceback__))
    lines = ["Traceback (most recent call last):\n", *stack.format()]
    lines.extend(traceback.format_exception_only(type(error), error))
    return "".join(lines).rstrip()


class RunEngine:
    """Base of the two engines. Subclasses set these attributes in ``__init__``."""

    run: FlowRun | TaskRun
    subject: Any
    store: Store
    policy: Policy
    listener: Any
    logger: RunLogger
    #: Whether each attempt waits for the runs it started (a flow's submitted tasks) before its outcome.
    awaits_others_after_attempt = False
    #: Serialises the run's own proposals with a cancel() from another thread.
    _lock: threading.Lock
    _cancelled = False

    def _attempts(self) -> Generator[Any, Any, State]:
        """Running, the function, then Completed or Failed: again for as long as the policy schedules a retry."""
        error: Optional[BaseException] = None
        state = yield from self._propose(Running())
        while state.type is RUNNING:
            self._before_attempt()
            value, error = yield EXECUTE
            if error is not None and is_interrupt(error):
                # Ctrl-C or SIGTERM: what this run started is cancelled, not waited for.
                self._cancel_others(f"Its flow run was interrupted by {describe_interrupt(error)}.")
            elif self.awaits_others_after_attempt:
                yield AWAIT_OTHERS
            state = yield from self._propose(self._completed(value) if error is None else self._failed(error))
            if state.type is SCHEDULED:
                self._log_retry(state)
                yield Wait(seconds_until(state.scheduled_time))
                state = yield from self._propose(Retrying())
        return self._finished(state, error)

    def _before_attempt(self) -> None:
        """Called as each attempt starts."""

    def _completed(self, value: Any) -> State:
        """The state a run proposes when its function returned ``value``."""
        raise NotImplementedError

    def _persisted(self, value: Any, message: Optional[str] = None) -> State:
        """A Completed state whose result is written to the store, or to the subject's ``result_storage``
        (Failed if it cannot be serialized or written)."""
        subject = self.subject
        storage_key = storage_key_for(self.run.id)
        owner = f"{self.run.kind} '{subject.name}'"
        storage, serializer = self._result_options()
        if serializer is None:
            serializer = _default_serializer()
        try:
            payload = dumps_result(value, owner=owner, serializer=serializer)
        except ResultSerializationError as exc:
            self.logger.error("%s", exc)
            return Failed(str(exc), data=exc)
        try:
            path = self._result_path()
        except Exception as exc:
            error = ResultSerializationError(f"The result of {owner} has no storage key: {exc}")
            self.logger.error("%s", error)
            return Failed(str(error), data=error)
        if storage is None and path is None:
            self.store.write_result(storage_key, payload)
        else:
            try:
                if storage is None:  # a key chosen with result_storage_key, under the local storage folder
                    from .filesystems import LocalFileSystem
                    from .settings import get_settings

                    storage = LocalFileSystem(get_settings().resolved_storage_path)
                # The state keeps the file's URL.
                storage_key = storage.write_path(storage_key if path is None else path, payload)
            except Exception as exc:
                error = ResultSerializationError(
                    f"The result of {owner} could not be written to result_storage {storage!r}: {type(exc).__name__}: {exc}"
                )
                self.logger.error("%s", error)
                return Failed(str(error), data=error)
        if not subject.cache_result_in_memory:
            return Completed(message, storage_key=storage_key)  # result() reads it back
        return Completed(message, data=value, storage_key=storage_key)

    def _result_options(self) -> tuple[Any, Any]:
        """Where and how a persisted result of this run is kept: the subject's ``result_storage`` and ``result_serializer``."""
        return self.subject.result_storage, self.subject.result_serializer

    def _result_path(self) -> Optional[str]:
        """Where under the result storage this run's result goes, when chosen (``result_storage_key``)."""
        return None

    def _propose(self, state: State) -> Generator[Any, Any, State]:
        """Propose ``state`` until the policy accepts something; yield ``Wait`` while it delays."""
        while True:
            ctx = TransitionContext(self.run, self.subject, self.store, state)
            old = self.run.state
            with self._lock:  # against a cancel() from the flow's thread
                if self._cancelled:
                    assert old is not None
                    return old  # cancelled while it ran or waited: nothing it proposes now counts
                accepted = self.policy.propose(ctx)
            if accepted is not None:
                if self.listener is not None:  # (checked here: a call less a proposal when no plugin listens)
                    self._notify(old, accepted)
                return accepted
            waiting = self.policy.hold(ctx)
            if waiting is not None:
                if self.listener is not None:
                    self._notify(old, waiting)
                self.logger.info("Waiting in state %s before entering %s: %s.", waiting.name, state.name, ctx.reason)
            elif ctx.waiting_state is None:
                self.logger.info("Waiting %.1fs before entering %s: %s", ctx.delay_seconds, state.name, ctx.reason)
            yield Wait.until(ctx.delay_seconds or 0.0, ctx.wake)
            state = state.copy(timestamp=_dt.datetime.now(_dt.timezone.utc))  # it is entered now, not before the wait

    def _notify(self, old: Optional[State], new: State) -> None:
        """Tell the state-change listeners of plugins (called only when there are some)."""
        try:
            self.listener(**{f"{self.run.kind}_run": self.run, "old_state": old, "new_state": new})
        except Exception:
            logging.getLogger("headwater.plugins").exception("A state-change event hook raised; the run goes on.")

    def _begin_pending(self) -> None:
        """Propose Pending, dated the moment the run was made (so a store writes that moment out once)."""
        for _ in self._propose(State(PENDING, "Pending", timestamp=self.run.created)):
            pass  # a delay on Pending has nothing to wait for

    def _failed(self, error: BaseException) -> State:
        """The state a run proposes when its function raised ``error``."""
        what = f"{self.run.kind.capitalize()} run"
        if isinstance(error, RunTimeout):
            self.logger.error("%s exceeded its timeout of %s seconds.", what, error.seconds)
            return TimedOut(f"{what} exceeded timeout of {error.seconds} seconds", data=TimeoutError(str(error)))
        if is_interrupt(error):
            return Cancelled(f"{what} was interrupted by {describe_interrupt(error)}.", data=error)
        self.logger.error("Encountered exception during execution:\n%s", format_user_traceback(error))
        return Failed(f"{what} encountered an exception {type(error).__name__}: {error}", data=error)

    def crash(self, error: Exception) -> State:
        """Record a run whose orchestration itself failed as Crashed: no record is left Running.

        The Crashed state goes through the policy if it can (so that rules give back what the run
        held, such as a concurrency slot); if the policy fails too, it is recorded directly.
        """
        self.logger.error("headwater failed while orchestrating this run:\n%s", "".join(traceback.format_exception(error)).rstrip())
        state = Crashed(f"headwater failed while orchestrating this run: {type(error).__name__}: {error}", data=error)
        try:
            accepted = self.policy.propose(TransitionContext(self.run, self.subject, self.store, state))
        except Exception:
            accepted = None
        if accepted is not None and accepted.is_final():
            state = accepted
        else:
            commit_state(self.run, state)
            try:
                self.store.record_state(self.run, state)
            except Exception:
                self.logger.exception("The Crashed state could not be recorded either.")
        if self.subject.state_hooks:
            self._call_state_hooks(state)
        return state

    # -- interrupts ---------------------------------------------------------------------------
    def cancel(self, message: str) -> Optional[State]:
        """Record the run Cancelled now, from any thread, unless it already finished; return the state if recorded.

        Whatever the run's own thread proposes afterwards is ignored (a worker thread cannot be
        stopped; the function it is running may still return, but the record stays Cancelled).
        """
        with self._lock:
            current = self.run.state
            if self._cancelled or (current is not None and current.is_final()):
                return None
            self._cancelled = True
            ctx = TransitionContext(self.run, self.subject, self.store, Cancelled(message))
            state = self.policy.propose(ctx)  # through the rules: a concurrency slot is given back
            if state is None:  # a rule asked to wait; an interrupted run cannot
                state = ctx.proposed_state
                commit_state(self.run, state)
                self.store.record_state(self.run, state)
        if self.listener is not None:
            self._notify(current, state)
        self.logger.engine_info("Finished in state %s", state.short())
        if self.subject.state_hooks:
            self._call_state_hooks(state)
        return state

    def interrupted(self, error: BaseException) -> None:
        """Ctrl-C or SIGTERM reached this run outside its function (waiting, sleeping): record it Cancelled."""
        reason = f"{self.run.kind.capitalize()} run was interrupted by {describe_interrupt(error)}."
        self._cancel_others(f"Its flow run was interrupted by {describe_interrupt(error)}.")
        self.cancel(reason)

    def _cancel_others(self, message: str) -> None:
        """Cancel the unfinished runs this run started (a flow's task runs)."""

    def _log_retry(self, state: State) -> None:
        self.logger.info(
            "Received non-final state '%s' when proposing final state 'Failed' and will attempt to run again...",
            state.name,
        )

    def _finished(self, state: State, error: Optional[BaseException]) -> State:
        if self.store.flush_final_states:  # HEADWATER_STORE_DURABILITY=strict: committed before anyone sees the result
            self.store.flush()
        self.logger.engine_info("Finished in state %s", state.short())
        if self.subject.state_hooks:  # a dict that is empty unless the flow or task has hooks: no cost otherwise
            self._call_state_hooks(state)
        if error is not None and is_interrupt(error):
            raise error  # KeyboardInterrupt and friends stop everything, once recorded
        return state

    def _call_state_hooks(self, state: State) -> None:
        """Call the subject's hooks for this state (``on_completion``, ``on_running``, ...), each guarded: the state stands."""
        for hook in self.subject.state_hooks.get(state.type, ()):
            name = getattr(hook, "__qualname__", None) or repr(hook)
            try:
                outcome = hook(self.subject, self.run, state)
                if inspect.isawaitable(outcome):
                    from .task_engine import run_to_end

                    run_to_end(lambda: outcome)  # an async hook runs to its end before the run returns
            except Exception:
                self.logger.exception(
                    "The %s hook %s of %s run '%s' raised; the run stays %s and the other hooks still run.",
                    _HOOK_OPTIONS[state.type], name, self.run.kind, self.run.name, state.name,
                )
