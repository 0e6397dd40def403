"""The default orchestration rules: retries and caching are rules, not special cases in the engine."""

from __future__ import annotations

import datetime as _dt
import logging
import random
from typing import Any, Callable

from ..hookspecs import hookimpl
from ..orchestration import OrchestrationRule, TransitionContext
from ..results import loads_result, read_payload
from ..settings import last_settings
from ..states import AwaitingRetry, Cached, StateType
from ..stores import CacheEntry

logger = logging.getLogger("headwater.orchestration")


def retry_delay(delays: float | list[float] | tuple[float, ...], attempt: int, jitter_factor: float | None) -> float:
    """The wait before retry number ``attempt`` (1-based): one delay for all, or one per retry (the last repeats)."""
    if isinstance(delays, (list, tuple)):
        delay = float(delays[min(attempt, len(delays)) - 1]) if delays else 0.0
    else:
        delay = float(delays or 0)
    if jitter_factor:
        delay = max(0.0, delay * (1 + random.uniform(-jitter_factor, jitter_factor)))
    return delay


class RetryFailedRuns(OrchestrationRule):
    """A run that fails while it has retries left is scheduled to run again (Failed becomes AwaitingRetry).

    A ``retry_condition_fn(subject, run, failed_state)`` on the flow or task has the last word: the run is
    retried only when it returns True. One that raises is logged, and the run is not retried.
    """

    from_states = frozenset({StateType.RUNNING})
    to_states = frozenset({StateType.FAILED})

    def before_transition(self, ctx: TransitionContext) -> None:
        subject = ctx.subject
        retries = getattr(subject, "retries", 0) or 0
        if ctx.run.run_count > retries:
            return
        condition = getattr(subject, "retry_condition_fn", None)
        if condition is not None and not self._should_retry(condition, ctx):
            return
        delay = retry_delay(getattr(subject, "retry_delay_seconds", 0), ctx.run.run_count, getattr(subject, "retry_jitter_factor", None))
        when = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=delay)
        ctx.replace(AwaitingRetry(f"Retry {ctx.run.run_count} of {retries}", scheduled_time=when), reason="retries left")

    @staticmethod
    def _should_retry(condition: Callable[..., Any], ctx: TransitionContext) -> bool:
        try:
            return bool(condition(ctx.subject, ctx.run, ctx.proposed_state))
        except Exception as exc:
            # The run keeps its own error as its outcome; the condition's error is only reported.
            logger.warning(
                "%s run %r: retry_condition_fn %s raised %s: %s; the run is not retried.",
                ctx.kind.capitalize(), ctx.run.name, getattr(condition, "__qualname__", repr(condition)),
                type(exc).__name__, exc,
            )
            return False


class CacheRetrieval(OrchestrationRule):
    """A task run about to start whose cache key has a valid entry is Cached instead, with the stored result."""

    applies_to = frozenset({"task"})
    from_states = frozenset({StateType.PENDING})
    to_states = frozenset({StateType.RUNNING})

    def before_transition(self, ctx: TransitionContext) -> None:
        key = getattr(ctx.run, "cache_key", None)  # a task-only rule
        if key is None:
            return
        refresh = getattr(ctx.subject, "refresh_cache", None)
        if refresh or (refresh is None and last_settings().tasks_refresh_cache):
            return
        entry = ctx.store.read_cache_entry(key)
        if entry is None or not entry.is_valid(_dt.datetime.now(_dt.timezone.utc)):
            return
        try:
            payload = entry.payload if entry.payload is not None else read_payload(ctx.store, entry.storage_key)
            value = loads_result(payload)
        except Exception as exc:
            logger.warning(
                "Task run %r: the cached result under key %r cannot be read (%s: %s); running the task again.",
                ctx.run.name, key, type(exc).__name__, exc,
            )
            return
        ctx.replace(Cached(data=value, storage_key=entry.storage_key), reason="cache hit")


class CacheInsertion(OrchestrationRule):
    """A task run with a cache key that completes files its persisted result under that key."""

    applies_to = frozenset({"task"})
    from_states = frozenset({StateType.RUNNING})
    to_states = frozenset({StateType.COMPLETED})

    def after_transition(self, ctx: TransitionContext) -> None:
        state, key = ctx.proposed_state, getattr(ctx.run, "cache_key", None)
        if key is None or state.storage_key is None:
            return
        expiration = getattr(ctx.subject, "cache_expiration", None)
        now = state.timestamp
        ctx.store.write_cache_entry(
            CacheEntry(
                key, state.storage_key, ctx.run.id, now, now + expiration if expiration is not None else None,
                task_key=getattr(ctx.run, "task_key", None),
            )
        )


@hookimpl
def register_orchestration_rules(register):
    register(CacheRetrieval())
    register(CacheInsertion())
    register(RetryFailedRuns())
