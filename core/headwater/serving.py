"""Serving a flow on a schedule: ``Flow.serve()`` and ``headwater serve``. A layer on top of the engine.

The store is the only thing processes share. Each due time of a schedule is *claimed* in it
(an insert that only one process can make), so two servers of one schedule on one store never
run it twice. A claimed run is recorded as a flow run in state Scheduled, with its due time,
before it starts; if it starts more than ``late_after`` seconds late it goes through Late. It
then runs in a child process of its own (``python -m headwater.serving``), so that a crash,
a segfault or ``sys.exit`` in the flow takes down the run and not the server: the run is
recorded Crashed and the next one starts on time.

Policies, each with the default a cron user would expect:

- ``missed`` (due times that passed while nothing served the schedule): ``"latest"`` runs
  the latest of them once and records the others as Cancelled, saying why; ``"none"`` records
  them all so; ``"all"`` runs each.
- ``overlap`` (due while this schedule's previous run still runs): ``"skip"`` records the due
  run as Cancelled, saying why; ``"allow"`` starts it anyway.

Ctrl-C or SIGTERM stops the scheduling, waits up to ``shutdown_timeout`` seconds for the runs
in progress, then stops them with SIGTERM (each records itself Cancelled).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from .exceptions import ConfigurationError
from .schedules import Schedule, jittered, make_schedule

if TYPE_CHECKING:
    from .flows import Flow
    from .runs import FlowRun
    from .stores import Store

__all__ = ["Server", "serve", "entrypoint_of", "MISSED_POLICIES", "OVERLAP_POLICIES"]

logger = logging.getLogger("headwater.serve")

MISSED_POLICIES = ("latest", "none", "all")
OVERLAP_POLICIES = ("skip", "allow")
#: How many missed due times are recorded one by one; beyond it, one log line says how many more.
_MISSED_RECORDED = 100
#: The longest the server sleeps between looks at the store (pause, manual runs, finished children).
_LOOK_EVERY = 0.25
_UTC = _dt.timezone.utc


def entrypoint_of(flow: Flow) -> str:
    """``file.py:name`` (or ``module:name``) where a child process finds ``flow`` again."""
    module = sys.modules.get(flow.fn.__module__)
    names = [name for name, value in vars(module).items() if value is flow] if module is not None else []
    if not names:
        raise ConfigurationError(
            f"Flow {flow.name!r} cannot be served from a child process: it is not a module-level name of its module. "
            "Define it at the top of a module, or serve it with in_process=True."
        )
    path = getattr(module, "__file__", None)
    if flow.fn.__module__ == "__main__" or path is None:
        if path is None:
            raise ConfigurationError(f"Flow {flow.name!r} was not defined in a file; serve it with in_process=True.")
        return f"{os.path.abspath(path)}:{names[0]}"
    return f"{flow.fn.__module__}:{names[0]}"


@dataclasses.dataclass
class _Child:
    process: Optional[subprocess.Popen]
    thread: Optional[threading.Thread]
    run: FlowRun

    @property
    def run_id(self) -> str:
        return self.run.id

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.thread is not None and self.thread.is_alive()


class Server:
    """Serves one flow on one schedule until :meth:`stop` (or Ctrl-C / SIGTERM in :meth:`run_forever`)."""

    def __init__(
        self, flow: Flow, name: str, schedule: Schedule, *, parameters: Optional[dict[str, Any]] = None,
        entrypoint: Optional[str] = None, in_process: bool = False, missed: str = "latest", overlap: str = "skip",
        late_after: float = 10.0, jitter: float = 0.0, shutdown_timeout: float = 30.0,
    ) -> None:
        if missed not in MISSED_POLICIES:
            raise ConfigurationError(f"missed={missed!r} is not a policy; use one of {', '.join(MISSED_POLICIES)}.")
        if overlap not in OVERLAP_POLICIES:
            raise ConfigurationError(f"overlap={overlap!r} is not a policy; use one of {', '.join(OVERLAP_POLICIES)}.")
        for option, value in (("late_after", late_after), ("jitter", jitter), ("shutdown_timeout", shutdown_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"{option}={value!r} must be a number of seconds, 0 or more.")
        self.flow, self.name, self.schedule = flow, name, schedule
        self.parameters = flow.validate(flow.bind((), dict(parameters or {})))
        self.entrypoint = entrypoint or (None if in_process else entrypoint_of(flow))
        self.in_process, self.missed, self.overlap = in_process, missed, overlap
        self.late_after, self.jitter, self.shutdown_timeout = late_after, jitter, shutdown_timeout
        self.children: list[_Child] = []
        self._standby: Optional[subprocess.Popen] = None
        self._stopping = threading.Event()
        from .environment import standalone_environment

        self.store: Store = standalone_environment()[0]

    # -- the loop ----------------------------------------------------------------------------
    def run_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM, then shut down (see the module's docs)."""
        # The signals only set a flag, seen between two steps of the loop: a run is never left
        # half-started (recorded Scheduled, its process not started).
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.signal(number, lambda *_: self._stopping.set())
        try:
            self.serve_until_stopped()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            logger.info("Schedule %r: stopping; waiting up to %gs for the runs in progress.", self.name, self.shutdown_timeout)
            self.shut_down()

    def stop(self) -> None:
        self._stopping.set()

    def serve_until_stopped(self) -> None:
        from . import heartbeats

        self._register()
        # The runs it records Scheduled are its own until their processes take them: it is heard from.
        heartbeats.hold(self.store)
        try:
            self._serve()
        finally:
            heartbeats.release(self.store)

    def _serve(self) -> None:
        if not self.in_process:
            self._standby = self._start_standby()
        now = _dt.datetime.now(_UTC)
        self._catch_up(now)
        upcoming = self._next_after(now)
        logger.info("Serving flow %r as %r (%s); next run at %s.", self.flow.name, self.name, self.schedule.describe(), upcoming.isoformat())
        while not self._stopping.is_set():
            self._reap()
            for parameters in self.store.take_schedule_run_requests(self.name):
                self._start_due(_dt.datetime.now(_UTC), {**self.parameters, **parameters}, manual=True)
            now = _dt.datetime.now(_UTC)
            if now >= upcoming:
                if not self._paused():
                    self._start_due(upcoming, self.parameters)
                upcoming = self._next_after(max(now, upcoming))
                continue
            self._stopping.wait(min(_LOOK_EVERY, (upcoming - now).total_seconds()))

    def _next_after(self, moment: _dt.datetime) -> _dt.datetime:
        return jittered(next(iter(self.schedule.after(moment))), self.jitter)

    def _register(self) -> None:
        from .processes import current_process
        from .records import ScheduleRecord

        process = current_process()
        self.store.write_schedule(
            ScheduleRecord(
                name=self.name, entrypoint=self.entrypoint or "(in process)", flow_name=self.flow.name,
                spec=_spec_of(self.schedule), parameters=_jsonable(self.parameters), host=process.host, pid=process.pid,
                updated=_dt.datetime.now(_UTC),
            )
        )

    def _paused(self) -> bool:
        found = self.store.read_schedules(self.name)
        return bool(found and found[0].paused)

    # -- policies -------------------------------------------------------------------------------
    def _catch_up(self, now: _dt.datetime) -> None:
        """The due times missed since this schedule's last claimed one, handled by the ``missed`` policy."""
        from .schedules import due_times

        last = self.store.last_schedule_run(self.name)
        if last is None or self._paused():
            return
        missed = due_times(self.schedule, last, now, limit=100_000)
        if not missed:
            return
        run_now = missed if self.missed == "all" else missed[-1:] if self.missed == "latest" else []
        skipped = [due for due in missed if due not in run_now]
        for due in skipped[-_MISSED_RECORDED:]:
            self._record_skipped(due, f"Missed: due at {due.isoformat()} while nothing served schedule {self.name!r} (missed={self.missed!r}).")
        if len(skipped) > _MISSED_RECORDED:
            logger.warning("Schedule %r: %d more missed runs not recorded one by one.", self.name, len(skipped) - _MISSED_RECORDED)
        for due in run_now:
            self._start_due(due, self.parameters)

    def _start_due(self, due: _dt.datetime, parameters: dict[str, Any], manual: bool = False) -> None:
        from .states import Cancelled

        if self.overlap == "skip" and any(child.alive() for child in self.children):
            self._record_skipped(due, f"Skipped: the previous run of schedule {self.name!r} was still running (overlap='skip').", manual)
            return
        run = self._new_run(parameters)
        if not manual and not self.store.claim_schedule_run(self.name, due, run.id):
            return  # another server of this schedule has it
        self._record(run, _scheduled(due))
        late = (_dt.datetime.now(_UTC) - due).total_seconds()
        if late > self.late_after:
            self._record(run, _scheduled(due, name="Late", message=f"Started {late:.1f}s after it was due."))
        self.store.flush()  # the child process writes the same row next
        try:
            self.children.append(self._launch(run, parameters))
        except Exception as exc:
            self._record(run, Cancelled(f"Could not start the run: {type(exc).__name__}: {exc}"))
            logger.exception("Schedule %r: could not start a run.", self.name)

    def _record_skipped(self, due: _dt.datetime, reason: str, manual: bool = False) -> None:
        from .states import Cancelled

        run = self._new_run(self.parameters)
        if not manual and not self.store.claim_schedule_run(self.name, due, run.id):
            return
        self._record(run, _scheduled(due))
        self._record(run, Cancelled(reason))
        logger.info("Schedule %r: %s", self.name, reason)

    def _new_run(self, parameters: dict[str, Any]) -> FlowRun:
        from .names import generate_run_name
        from .results import jsonable_parameters
        from .runs import FlowRun

        return FlowRun(generate_run_name(), self.flow.name, self.flow.version, jsonable_parameters(parameters), tags=("scheduled",))

    def _record(self, run: FlowRun, state: Any) -> None:
        from .orchestration import commit_state

        commit_state(run, state)
        self.store.record_state(run, state)

    # -- children -----------------------------------------------------------------------------
    def _launch(self, run: FlowRun, parameters: dict[str, Any]) -> _Child:
        if self.in_process:
            thread = threading.Thread(target=_run_recorded, args=(self.flow, run, parameters), name=f"headwater-serve-{run.name}")
            thread.start()
            return _Child(None, thread, run)
        payload = json.dumps({"id": run.id, "name": run.name, "parameters": _jsonable(parameters)})
        process = self._standby if self._standby is not None and self._standby.poll() is None else self._start_standby()
        self._standby = None
        assert process.stdin is not None
        process.stdin.write(payload + "\n")
        process.stdin.close()
        self._standby = self._start_standby()  # for the next run
        return _Child(process, None, run)

    def _start_standby(self) -> subprocess.Popen:
        """A child process that has imported headwater and the flow, and waits for its run.

        Starting Python, importing and opening the store take a child 100-150 ms here; started
        ahead, a run starts as soon as it is due. Each run still has a fresh process.
        """
        assert self.entrypoint is not None
        # A session of its own: a Ctrl-C at the terminal reaches the server, which lets the run
        # finish (or stops it, recorded) at shutdown, not the run in the middle of its start.
        return subprocess.Popen(
            [sys.executable, "-m", "headwater.serving", self.entrypoint], stdin=subprocess.PIPE, text=True, start_new_session=True
        )

    def _reap(self) -> None:
        """Forget finished children; a child that died without recording its end is recorded Crashed now."""
        finished = [child for child in self.children if not child.alive()]
        if not finished:
            return
        self.children = [child for child in self.children if child.alive()]
        died = [child for child in finished if child.process is not None and child.process.returncode != 0]
        if not died:
            return
        self.store.mark_crashed_runs()  # the rows the child wrote carry its pid (waits for its last writes to land)
        from .states import Crashed

        for child in died:
            assert child.process is not None
            record = self.store.read_flow_run(child.run.id)
            if record is not None and record.state is not None and record.state.is_final():
                continue
            code = child.process.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            # It died before any of its own writes landed: the row is still the one this process wrote.
            self._record(child.run, Crashed(f"The process that ran it (pid {child.process.pid}) {how} before recording an end."))
        self.store.flush()

    def shut_down(self) -> None:
        """Let the runs in progress finish within ``shutdown_timeout``; then stop them, each recorded."""
        if self._standby is not None:
            assert self._standby.stdin is not None
            self._standby.stdin.close()  # no run for it: it exits
            self._standby.wait(30)
            self._standby = None
        deadline = time.monotonic() + self.shutdown_timeout
        while any(child.alive() for child in self.children) and time.monotonic() < deadline:
            time.sleep(0.05)
        for child in self.children:
            if child.process is not None and child.alive():
                logger.warning("Schedule %r: stopping run %s, still going at shutdown.", self.name, child.run_id)
                child.process.terminate()  # the run records itself Cancelled
        for child in self.children:
            if child.process is not None:
                try:
                    child.process.wait(10)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        self._reap()
        self.store.flush()


def serve(
    flow: Flow, name: Optional[str] = None, *, cron: Optional[str] = None, interval: Any = None,
    parameters: Optional[dict[str, Any]] = None, timezone: Optional[str] = None, **options: Any,
) -> None:
    """Serve ``flow`` on a schedule until Ctrl-C or SIGTERM (what ``Flow.serve`` calls)."""
    schedule = make_schedule(cron=cron, interval=interval, timezone=timezone)
    Server(flow, name or flow.name, schedule, parameters=parameters, **options).run_forever()


def _spec_of(schedule: Schedule) -> dict[str, Any]:
    from .schedules import CronSchedule

    if isinstance(schedule, CronSchedule):
        return {"cron": schedule.cron, "timezone": schedule.timezone}
    return {"interval": schedule.seconds, "anchor": schedule.anchor.isoformat(), "timezone": schedule.timezone}


def schedule_of(spec: dict[str, Any]) -> Schedule:
    """The schedule a stored spec describes (for ``headwater schedules ls``)."""
    anchor = _dt.datetime.fromisoformat(spec["anchor"]) if "anchor" in spec else None
    return make_schedule(cron=spec.get("cron"), interval=spec.get("interval"), timezone=spec.get("timezone"), anchor=anchor)


def _scheduled(due: _dt.datetime, name: str = "Scheduled", message: Optional[str] = None) -> Any:
    from .states import Scheduled

    return Scheduled(message or f"Due at {due.isoformat(timespec='milliseconds')}.", scheduled_time=due, name=name)


def _jsonable(parameters: dict[str, Any]) -> dict[str, Any]:
    from .results import jsonable_parameters

    return jsonable_parameters(parameters)


def _run_recorded(flow: Flow, run: FlowRun, parameters: dict[str, Any]) -> Any:
    """Run ``flow`` as the recorded flow run ``run`` (in this thread)."""
    from .flow_engine import recorded_run

    recorded_run.set((run.id, run.name, _dt.datetime.now(_UTC)))
    return flow(**parameters, return_state=True)


def _child_main(entrypoint: str) -> int:
    """A child process's run: load the flow and open the store, wait for the run on stdin (a line
    of JSON; none: exit), run it as the recorded run; exit 0 when it Completed."""
    from .environment import standalone_environment
    from .flow_engine import recorded_run
    from .loading import load_flow

    flow = load_flow(entrypoint)
    standalone_environment()  # the store, its writer and the plugins, ready before the run is due
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    # Its Pending state is dated now, after the Scheduled one the server recorded.
    recorded_run.set((job["id"], job["name"], _dt.datetime.now(_UTC)))
    outcome: Any = flow(**job["parameters"], return_state=True)
    if inspect.iscoroutine(outcome):  # an async flow
        import asyncio

        outcome = asyncio.run(outcome)
    return 0 if outcome.is_completed() else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
