"""What the flow run and task run engines share: proposing states and turning errors into states."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import traceback
from typing import TYPE_CHECKING, Any, Generator, Optional

from .drivers import Wait
from .orchestration import TransitionContext, commit_state
from .states import Cancelled, Crashed, Failed, State, TimedOut
from .timeouts import RunTimeout

if TYPE_CHECKING:
    from .logs import RunLogger
    from .orchestration import Policy
    from .runs import FlowRun, TaskRun
    from .stores import Store

__all__ = ["RunEngine", "format_user_traceback"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def format_user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without headwater's own frames: the user's code is what matters."""
    stack = [frame for frame in traceback.extract_tb(error.__traceback__) if not frame.filename.startswith(_PACKAGE_DIR)]
    lines = ["Traceback (most recent call last):\n", *traceback.StackSummary.from_list(stack).format()]
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

    def _propose(self, state: State) -> Generator[Any, Any, State]:
        """Propose ``state`` until the policy accepts something; yield ``Wait`` while it delays."""
        while True:
            ctx = TransitionContext(self.run, self.subject, self.store, state)
            old = self.run.state
            accepted = self.policy.propose(ctx)
            if accepted is not None:
                if self.listener is not None:
                    try:
                        self.listener(**{f"{self.run.kind}_run": self.run, "old_state": old, "new_state": accepted})
                    except Exception:
                        logging.getLogger("headwater.plugins").exception("A state-change event hook raised; the run goes on.")
                return accepted
            self.logger.info("Waiting %.1fs before entering %s: %s", ctx.delay_seconds, state.name, ctx.reason)
            yield Wait(ctx.delay_seconds or 0.0)
            state = state.copy(timestamp=_dt.datetime.now(_dt.timezone.utc))  # it is entered now, not before the wait

    def _begin_pending(self, state: State) -> None:
        for _ in self._propose(state):  # a delay on Pending has nothing to wait for
            pass

    def _failed(self, error: BaseException) -> State:
        """The state a run proposes when its function raised ``error``."""
        what = f"{self.run.kind.capitalize()} run"
        if isinstance(error, RunTimeout):
            self.logger.error("%s exceeded its timeout of %s seconds.", what, error.seconds)
            return TimedOut(f"{what} exceeded timeout of {error.seconds} seconds", data=TimeoutError(str(error)))
        if not isinstance(error, Exception):
            message = f"{what} was interrupted by {type(error).__name__}."
            return Cancelled(message, data=error) if self.run.kind == "flow" else Crashed(message, data=error)
        self.logger.error("Encountered exception during execution:\n%s", format_user_traceback(error))
        return Failed(f"{what} encountered an exception {type(error).__name__}: {error}", data=error)

    def crash(self, error: Exception) -> State:
        """Record a run whose orchestration itself failed as Crashed, bypassing the rules: no record is left Running."""
        self.logger.error("headwater failed while orchestrating this run:\n%s", "".join(traceback.format_exception(error)).rstrip())
        state = Crashed(f"headwater failed while orchestrating this run: {type(error).__name__}: {error}", data=error)
        commit_state(self.run, state)
        try:
            self.store.record_state(self.run, state)
        except Exception:
            self.logger.exception("The Crashed state could not be recorded either.")
        return state

    def _log_retry(self, state: State) -> None:
        self.logger.info(
            "Received non-final state '%s' when proposing final state 'Failed' and will attempt to run again...",
            state.name,
        )

    def _finished(self, state: State, error: Optional[BaseException]) -> State:
        self.logger.engine_info("Finished in state %s", state.short())
        if error is not None and not isinstance(error, (Exception, RunTimeout)):
            raise error  # KeyboardInterrupt and friends stop everything, once recorded
        return state
