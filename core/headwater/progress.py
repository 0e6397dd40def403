"""Live progress of a flow run's task runs, redrawn in place on stderr.

While a top-level flow run has submitted task runs, a line at the bottom of stderr says
how many were submitted, how many are running and how they ended::

    Flow run 'red-orca': 1000 submitted, 32 running, 950 done, 12 cached, 6 failed

The line is drawn by a daemon thread of its own a few times a second, only when stderr
is a terminal (or ``HEADWATER_PROGRESS=on``); log lines are written above it (see
:meth:`headwater.logs.BackgroundStderrHandler.draw_live_line`). When the flow run ends
the line is drawn a last time with the final counts and left on screen. A flow run that
ends before the first redraw leaves nothing. Subflows show no line of their own: their
task runs count into the top-level flow run's.

Nothing is paid per task run on the flow's side. The thread reads the futures the flow
run keeps anyway (``FlowRunContext.futures``) from where it stopped the last time, and
hangs a done-callback on each new one that appends the future to a queue: a finished run
is classified once, when the thread takes it off the queue.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Optional

from .logs import BackgroundStderrHandler
from .states import CACHED, StateType

if TYPE_CHECKING:
    from .context import FlowRunContext
    from .futures import HeadwaterFuture

__all__ = ["ProgressDisplay", "start_progress", "stop_progress"]

#: Seconds between two redraws.
REFRESH_INTERVAL = 0.2
# "running" is counted among this many of the oldest unfinished runs: runners start runs
# roughly in the order they were submitted, and a tick must not walk 100,000 waiting ones.
_RUNNING_SCAN_LIMIT = 5000

# Top-level flow run id -> its display, so that a subflow's task runs count into it.
_displays: dict[str, ProgressDisplay] = {}


def start_progress(context: FlowRunContext) -> None:
    """Show the progress of the flow run of ``context`` (called as the flow run begins).

    A top-level flow run gets a display when ``HEADWATER_PROGRESS`` asks for one; a subflow's
    task runs are added to its top-level flow run's display, if it has one.
    """
    top_level_id = context.logger.flow_run_id
    if context.flow_run.id != top_level_id:
        display = _displays.get(top_level_id or "")
        if display is not None:
            display.watch(context)
        return
    if not progress_wanted():
        return
    display = ProgressDisplay(f"Flow run '{context.flow_run.name}'")
    display.watch(context)
    _displays[context.flow_run.id] = display
    display.start()


def stop_progress(context: FlowRunContext) -> None:
    """Draw the final counts of the flow run of ``context`` and stop its display (as the flow run ends)."""
    display = _displays.pop(context.flow_run.id, None)
    if display is not None:
        display.stop()


def progress_wanted() -> bool:
    """Whether ``HEADWATER_PROGRESS`` (``auto``: when stderr is a terminal) asks for a display."""
    from .settings import last_settings

    mode = last_settings().progress  # the top-level run read the settings a moment ago
    if mode == "off":
        return False
    if mode == "on":
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # stderr replaced by an object without isatty, or closed
        return False


class _Source:
    """One flow run whose futures are watched: its context, and how far its list was read."""

    __slots__ = ("context", "futures", "read")

    def __init__(self, context: FlowRunContext) -> None:
        self.context = context
        self.futures: list[HeadwaterFuture] = context.futures
        self.read = 0


class ProgressDisplay:
    """Counts the task runs of one top-level flow run (and its subflows) and draws the live line."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.submitted = self.done = self.cached = self.failed = self.cancelled = 0
        self._sources: list[_Source] = []
        self._unfinished: dict[concurrent.futures.Future, HeadwaterFuture] = {}
        self._finished: collections.deque[concurrent.futures.Future] = collections.deque()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._drawn: Optional[str] = None  # the line last drawn

    def watch(self, context: FlowRunContext) -> None:
        """Count the task runs ``context``'s flow run submits."""
        self._sources.append(_Source(context))  # list.append: safe while the thread iterates by index

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="headwater-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; if the line was ever drawn, draw it a last time and leave it on screen."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.update(final=True)
        if self._drawn is not None:
            # The run's last log lines first, so that the final counts close the output.
            for handler in logging.getLogger("headwater").handlers:
                if isinstance(handler, BackgroundStderrHandler):
                    handler.flush()
            BackgroundStderrHandler.draw_live_line(self.line(), final=True)

    def _run(self) -> None:
        try:
            while not self._stopping.wait(REFRESH_INTERVAL):
                self.update()
                line = self.line() if self.submitted else None
                if line is not None and line != self._drawn:
                    BackgroundStderrHandler.draw_live_line(line)
                    self._drawn = line
        except Exception:  # a display must never take the flow run down with it
            pass

    # -- counting ---------------------------------------------------------------------------------
    def update(self, final: bool = False) -> None:
        """Take in newly submitted and newly finished runs. ``final``: also look at every unfinished one."""
        unfinished, finished = self._unfinished, self._finished
        for index in range(len(self._sources)):
            source = self._sources[index]
            futures = source.context.futures
            if futures is not source.futures:  # a flow retry started a fresh list
                source.futures, source.read = futures, 0
            count = len(futures)
            for future in futures[source.read : count]:
                inner = future._inner()
                unfinished[inner] = future
                inner.add_done_callback(finished.append)  # on a finished future: called at once, here
            self.submitted += count - source.read
            source.read = count
        while finished:
            self._settle(finished.popleft())
        if final:
            # A waiter may wake before a future's callbacks have run: look at each one left.
            for inner in [inner for inner in unfinished if inner.done()]:
                self._settle(inner)

    def _settle(self, inner: concurrent.futures.Future) -> None:
        future = self._unfinished.pop(inner, None)
        if future is None:  # already counted
            return
        if inner.cancelled():  # the runner dropped it before it started (a cancelled flow run)
            self.cancelled += 1
            return
        if inner.exception() is not None:
            self.failed += 1
            return
        state = future.state
        if state.type is StateType.COMPLETED:
            if state.name == CACHED:
                self.cached += 1
            else:
                self.done += 1
        elif state.type is StateType.CANCELLED:
            self.cancelled += 1
        else:
            self.failed += 1

    def running(self) -> int:
        return sum(
            1
            for future in itertools.islice(self._unfinished.values(), _RUNNING_SCAN_LIMIT)
            if future.task_run.state is not None and future.task_run.state.type is StateType.RUNNING
        )

    def line(self) -> str:
        parts = [f"{self.submitted} submitted", f"{self.running()} running", f"{self.done} done", f"{self.cached} cached", f"{self.failed} failed"]
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        text = f"{self.label}: {', '.join(parts)}"
        width = self._terminal_width()
        # A line wider than the terminal wraps, and "back to the start of the line" no longer erases all of it.
        return text if width is None or len(text) < width else text[: width - 1]

    def _terminal_width(self) -> Optional[int]:
        try:
            return os.get_terminal_size(sys.stderr.fileno()).columns or None
        except (AttributeError, ValueError, OSError):
            return None
