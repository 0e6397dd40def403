"""The two drivers of every run's state machine: one sync, one async.

An engine's ``steps()`` generator does all the orchestration and yields an
instruction whenever it needs the outside world:

* ``EXECUTE``: call the run's function and send back ``(value, None)`` or ``(None, exception)``;
* ``AWAIT_OTHERS``: wait until the runs this one depends on are done;
* ``Wait(seconds)``: sleep, then carry on (a retry delay, or a rule's delay; a rule may
  give an event that ends the sleep early, which the sync driver honours).

The drivers carry the instructions out, on a thread or on an event loop, and
return the final state the generator returns. Nothing of orchestration is
written twice for sync and async code.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Awaitable, Callable, Generator, Optional

from .states import State

__all__ = ["EXECUTE", "AWAIT_OTHERS", "Wait", "drive_sync", "drive_async"]

EXECUTE = "execute"
AWAIT_OTHERS = "await_others"


class Wait(float):
    """The instruction to sleep this many seconds; the sync driver wakes early if ``wake`` is set meanwhile."""

    wake: Optional[threading.Event] = None

    @classmethod
    def until(cls, seconds: float, wake: Optional[threading.Event]) -> Wait:
        wait = cls(seconds)
        wait.wake = wake
        return wait


Steps = Generator[Any, Any, State]


def drive_sync(steps: Steps, execute: Callable[[], Any], await_others: Callable[[], None]) -> State:
    try:
        instruction = next(steps)
        while True:
            if instruction is EXECUTE:
                try:
                    outcome: tuple[Any, Optional[BaseException]] = (execute(), None)
                except BaseException as exc:  # the engine records it and re-raises what must stop the flow
                    outcome = (None, exc)
                instruction = steps.send(outcome)
            elif instruction is AWAIT_OTHERS:
                await_others()
                instruction = next(steps)
            else:
                if instruction.wake is None:
                    time.sleep(instruction)
                else:
                    instruction.wake.wait(instruction)
                instruction = next(steps)
    except StopIteration as stop:
        return stop.value


async def drive_async(steps: Steps, execute: Callable[[], Awaitable[Any]], await_others: Callable[[], Awaitable[None]]) -> State:
    import anyio

    try:
        instruction = next(steps)
        while True:
            if instruction is EXECUTE:
                try:
                    outcome: tuple[Any, Optional[BaseException]] = (await execute(), None)
                except BaseException as exc:
                    outcome = (None, exc)
                instruction = steps.send(outcome)
            elif instruction is AWAIT_OTHERS:
                await await_others()
                instruction = next(steps)
            else:
                await anyio.sleep(instruction)
                instruction = next(steps)
    except StopIteration as stop:
        return stop.value
