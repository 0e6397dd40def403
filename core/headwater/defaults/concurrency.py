"""The tag concurrency limit rule, registered like any plugin's rule (see :mod:`headwater.concurrency`)."""

from __future__ import annotations

import threading

from ..concurrency import SlotRefusal
from ..hookspecs import hookimpl
from ..orchestration import ANY_STATE, OrchestrationRule, TransitionContext
from ..states import RUNNING, AwaitingConcurrencySlot, Cancelled, StateType

#: How long a waiting run sleeps before asking again: it starts short and doubles up to the longest.
#: (A slot given back by this process wakes its waiting runs at once; these bound the wait for other processes.)
FIRST_WAIT_SECONDS = 0.05
LONGEST_WAIT_SECONDS = 0.5


class TagConcurrencyLimits(OrchestrationRule):
    """A task run with a limited tag starts only with a slot of that tag, and gives it back when it leaves Running.

    It waits in the ``AwaitingConcurrencySlot`` state while the tag is full. A tag limited to 0
    never runs: the run is Cancelled with a message saying so.
    """

    applies_to = frozenset({"task"})  # slots are taken on the way into Running, given back on the way out
    # Every transition but a run's first (into Pending), which neither takes a slot nor gives one back.
    from_states = ANY_STATE - {None}

    def __init__(self) -> None:
        # Run ids holding slots, and how often each waiting run has been refused (set and dict operations
        # are atomic, and one run is only ever proposed by one thread at a time).
        self._holding: set[str] = set()
        self._waits: dict[str, int] = {}
        # Set (and replaced by a fresh one) whenever this process gives a slot back: the runs of this
        # process that wait on a thread ask again at once instead of sleeping out their delay.
        self._slot_freed = threading.Event()

    def before_transition(self, ctx: TransitionContext) -> None:
        run = ctx.run
        if not run.tags or ctx.proposed_state.type is not RUNNING or ctx.initial_type is RUNNING:
            return
        outcome = ctx.store.acquire_concurrency_slots(run)  # type: ignore[arg-type]  # a task-only rule
        if not isinstance(outcome, SlotRefusal):
            self._waits.pop(run.id, None)
            if outcome:
                self._holding.add(run.id)
            return
        if outcome.limit == 0:
            self._waits.pop(run.id, None)
            ctx.replace(Cancelled(f"Task run cannot start: {outcome.describe()}."), reason="concurrency limit 0")
            return
        waits = self._waits[run.id] = self._waits.get(run.id, 0) + 1
        seconds = min(LONGEST_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (waits - 1))
        ctx.delay(
            seconds, outcome.describe(), AwaitingConcurrencySlot(f"Waiting for a slot: {outcome.describe()}"), self._slot_freed
        )

    def after_transition(self, ctx: TransitionContext) -> None:
        run_id = ctx.run.id
        if ctx.proposed_state.type is RUNNING:
            return
        if self._waits:  # a run that waited and ends without starting (cancelled, crashed) is forgotten
            self._waits.pop(run_id, None)
        if run_id not in self._holding:
            return
        self._holding.discard(run_id)
        ctx.store.release_concurrency_slots(run_id)
        freed, self._slot_freed = self._slot_freed, threading.Event()
        freed.set()


@hookimpl(trylast=True)
def register_orchestration_rules(register):
    # Last in the chain: a run the cache answers never takes a slot.
    register(TagConcurrencyLimits())
