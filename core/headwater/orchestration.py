"""Orchestration: every state change of a run is a proposal that passes through a policy.

A policy is an ordered chain of :class:`OrchestrationRule` objects registered by
plugins. Each rule declares the transitions it governs (the kinds of run and the
state types it moves from and to) and, before the change, may

* accept it (do nothing),
* replace the proposed state with another (``ctx.replace``), as the retry rule
  turns Failed into AwaitingRetry and the cache rule turns Running into Cached,
* or delay it (``ctx.delay``): the run waits and proposes again, optionally in a
  visible waiting state (the tag concurrency rule's ``AwaitingConcurrencySlot``).

Once the chain has decided, the state is committed: the run's fields are
updated, the store records it, the rules' ``after_transition`` run, and any
event hook listeners are told. This is Prefect's server-side orchestration,
done in the flow's own process.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Optional

from .states import COMPLETED, RESUMING, RUNNING, TERMINAL_TYPES, State, StateType

if TYPE_CHECKING:
    from .runs import FlowRun, TaskRun
    from .stores import Store

__all__ = ["OrchestrationRule", "TransitionContext", "Policy", "ANY_STATE", "commit_state"]

logger = logging.getLogger("headwater.orchestration")

ANY_STATE: frozenset[Optional[StateType]] = frozenset([None, *StateType])


class TransitionContext:
    """What a rule sees of one proposed state change, and how it answers."""

    __slots__ = ("run", "subject", "store", "initial_state", "proposed_state", "delay_seconds", "reason", "waiting_state", "wake")

    def __init__(self, run: FlowRun | TaskRun, subject: Any, store: Store, proposed_state: State) -> None:
        self.run = run
        #: The Task or Flow being run; its options (retries, cache_expiration, ...) drive the rules.
        self.subject = subject
        self.store = store
        self.initial_state: Optional[State] = run.state
        self.proposed_state = proposed_state
        self.delay_seconds: Optional[float] = None
        self.reason: Optional[str] = None
        self.waiting_state: Optional[State] = None
        self.wake: Optional[threading.Event] = None

    @property
    def kind(self) -> str:
        """``"flow"`` or ``"task"``."""
        return self.run.kind

    @property
    def initial_type(self) -> Optional[StateType]:
        return self.initial_state.type if self.initial_state is not None else None

    def replace(self, state: State, reason: Optional[str] = None) -> None:
        """Make ``state`` the run's next state instead of the proposed one."""
        self.proposed_state = state
        self.reason = reason

    def delay(
        self, seconds: float, reason: str, waiting_state: Optional[State] = None, wake: Optional[threading.Event] = None
    ) -> None:
        """Refuse the change for now: the run waits ``seconds`` and proposes it again.

        With ``waiting_state`` (a non-final state, e.g. ``Pending(name="AwaitingConcurrencySlot")``)
        the run is recorded in that state while it waits, once, so that others can see why it waits.
        With ``wake``, a run waiting on a thread proposes again as soon as the event is set (the
        rule sets it when what it waits for may have changed), instead of sleeping the whole time.
        """
        self.delay_seconds = max(0.0, float(seconds))
        self.reason = reason
        self.waiting_state = waiting_state
        self.wake = wake


class OrchestrationRule:
    """A rule of the orchestration policy. Subclass it, set what it governs, override the hooks.

    ``applies_to`` is a set of run kinds (``"flow"``, ``"task"``); ``from_states``
    and ``to_states`` are sets of :class:`StateType` (``None`` in ``from_states``
    stands for a run that has no state yet).
    """

    name: ClassVar[str] = ""
    applies_to: ClassVar[frozenset[str]] = frozenset({"flow", "task"})
    from_states: ClassVar[frozenset[Optional[StateType]]] = ANY_STATE
    to_states: ClassVar[frozenset[Optional[StateType]]] = ANY_STATE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__

    def governs(self, kind: str, from_type: Optional[StateType], to_type: StateType) -> bool:
        return kind in self.applies_to and from_type in self.from_states and to_type in self.to_states

    def before_transition(self, ctx: TransitionContext) -> None:
        """Look at ``ctx.proposed_state``; call ``ctx.replace`` or ``ctx.delay`` to change the outcome."""

    def after_transition(self, ctx: TransitionContext) -> None:
        """Act on a committed change (``ctx.proposed_state`` is now the run's state)."""

    def __repr__(self) -> str:
        return f"<rule {self.name}>"


class Policy:
    """An ordered chain of rules, and the one place where a run's state changes."""

    def __init__(self, rules: Iterable[OrchestrationRule]) -> None:
        self.rules = tuple(rules)
        self._chains: dict[tuple[str, Optional[StateType], StateType], _Chain] = {}

    def _governing(self, ctx: TransitionContext) -> _Chain:
        # The rules for one kind of transition are worked out once, then looked up.
        initial = ctx.initial_state
        key = (ctx.run.kind, initial.type if initial is not None else None, ctx.proposed_state.type)
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = _Chain(rule for rule in self.rules if rule.governs(*key))
        return chain

    def propose(self, ctx: TransitionContext) -> Optional[State]:
        """Run the chain on a proposal; commit and return the resulting state, or ``None`` if delayed."""
        chain = self._governing(ctx)
        before = chain.before
        spoken: Optional[set[int]] = None  # kept only once a rule has turned the proposal into another transition
        index = 0
        while index < len(before):
            rule = before[index]
            index += 1
            if spoken is not None and id(rule) in spoken:
                continue
            proposed_type = ctx.proposed_state.type
            try:
                rule.before_transition(ctx)
            except Exception:
                logger.exception("Orchestration rule %r raised; the proposal goes on without it.", rule.name)
            if ctx.delay_seconds is not None:
                return None
            if ctx.proposed_state.type is not proposed_type:
                # A new transition: the rules that govern it (and have not spoken yet) are consulted.
                spoken = (spoken or set()).union(id(r) for r in before[:index])
                chain = self._governing(ctx)
                before, index = chain.before, 0
        state = ctx.proposed_state
        commit_state(ctx.run, state)
        ctx.store.record_state(ctx.run, state)
        for rule in chain.after:  # the rules of the transition made
            try:
                rule.after_transition(ctx)
            except Exception:
                logger.exception("Orchestration rule %r raised after a transition; the state stands.", rule.name)
        return state

    def hold(self, ctx: TransitionContext) -> Optional[State]:
        """Record the waiting state of a delayed proposal, unless the run is already in it; return it if recorded.

        Rules are not consulted: the run has not moved on, it says why it is still where it was.
        """
        waiting, current = ctx.waiting_state, ctx.run.state
        if waiting is None or (current is not None and current.name == waiting.name and current.type is waiting.type):
            return None
        commit_state(ctx.run, waiting)
        ctx.store.record_state(ctx.run, waiting)
        return waiting


class _Chain:
    """The rules governing one kind of transition: those with a ``before_transition``, and those with an ``after_transition``.

    A rule that leaves one of the two as OrchestrationRule's does nothing there, and is not called
    (three proposals a task run, each calling every rule twice, added up).
    """

    __slots__ = ("before", "after")

    def __init__(self, rules: Iterable[OrchestrationRule]) -> None:
        rules = tuple(rules)
        self.before = tuple(r for r in rules if _acts_in(r, "before_transition"))
        self.after = tuple(r for r in rules if _acts_in(r, "after_transition"))


def _acts_in(rule: OrchestrationRule, hook: str) -> bool:
    method = getattr(rule, hook)
    return getattr(method, "__func__", method) is not getattr(OrchestrationRule, hook)


def commit_state(run: FlowRun | TaskRun, state: State) -> None:
    """The bookkeeping every accepted state change does to its run."""
    if state.type is RUNNING:
        if state.name != RESUMING:  # a paused run that resumes goes on with the same attempt
            run.run_count += 1
        if run.start_time is None:
            run.start_time = state.timestamp
    elif state.type in TERMINAL_TYPES:
        run.end_time = state.timestamp
        if run.start_time is None and state.type is COMPLETED:
            # A cached run never ran; its span is the moment it was resolved.
            run.start_time = state.timestamp
    state.run_id = run.id
    run.state = state


def seconds_until(moment: Optional[_dt.datetime]) -> float:
    if moment is None:
        return 0.0
    return max(0.0, (moment - _dt.datetime.now(_dt.timezone.utc)).total_seconds())
