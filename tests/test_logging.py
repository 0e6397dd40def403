"""Run logs: every line reaches stderr, in order, though lines are written many at a time and not when logged."""

import logging
import re
import subprocess
import sys
import threading
import time

import pytest

SCRIPT = """
from headwater import flow, task, get_run_logger

@task
def step(i):
    get_run_logger().info("step %s says hi", i)
    return i

@flow
def many(n):
    return sum(step(i) for i in range(n))

assert many(300) == sum(range(300))
"""


def test_every_line_reaches_stderr_in_order(tmp_path, headwater_home):
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120)
    lines = proc.stderr.splitlines()
    line_format = re.compile(r"\d\d:\d\d:\d\d\.\d{3} \| INFO    \| (Flow|Task) run '[^']+' - .+")
    assert all(line_format.fullmatch(line) for line in lines), [line for line in lines if not line_format.fullmatch(line)][:3]
    said = [line for line in lines if "says hi" in line]
    assert [re.search(r"step (\d+) says", line).group(1) for line in said] == [str(i) for i in range(300)]
    finished = [line for line in lines if "Task run" in line and "Finished in state Completed()" in line]
    assert len(finished) == 300
    assert "Finished in state Completed('All states completed.')" in lines[-1]  # written at exit, nothing lost


def test_a_flows_lines_are_on_stderr_before_it_returns(tmp_path, headwater_home):
    # Lines are written many at a time, some while the flow goes on: its caller's next output
    # must still come after them, as it would if each line were written when logged.
    script = (
        "import sys\nfrom headwater import flow, task\n"
        "@task\ndef t(x): return x\n"
        "@flow\ndef f(n): return sum(t(i) for i in range(n))\n"
        "for n in (1, 50):\n    f(n)\n    print('returned', n, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    lines = proc.stderr.splitlines()
    first, second = lines.index("returned 1"), lines.index("returned 50")
    assert "Finished in state Completed" in lines[first - 1] and "Flow run" in lines[first - 1]
    assert "Finished in state Completed" in lines[second - 1] and "Flow run" in lines[second - 1]
    assert second == len(lines) - 1


class _Recorder:
    """A stand-in for sys.stderr that notes which thread wrote each line."""

    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.extend((threading.current_thread().name, line) for line in text.splitlines())

    def flush(self):
        pass


def _handler(gather, late):
    from headwater.logs import BackgroundStderrHandler

    handler = BackgroundStderrHandler()
    handler.GATHER_SECONDS, handler.LATE_SECONDS = gather, late
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def _line(text):
    return logging.LogRecord("headwater.test", logging.INFO, __file__, 1, text, None, None)


def test_a_thread_that_keeps_logging_writes_the_batches_itself(monkeypatch):
    # The handler's own thread would wait for the interpreter lock, and a busy flow thread would
    # wake it in vain at each system call: so the logging thread writes once a batch is old enough.
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stderr", recorder)
    handler = _handler(gather=0.0, late=30.0)  # the handler's thread never looks in time
    for i in range(51):  # with no time to gather, each line that finds one waiting writes both
        handler.emit(_line(f"line {i}"))
    assert [line for _, line in recorder.writes] == [f"line {i}" for i in range(50)]  # the last one waits
    assert {name for name, _ in recorder.writes} == {threading.current_thread().name}
    handler.flush()
    assert recorder.writes[-1][1] == "line 50"


def test_a_line_no_other_line_follows_is_written_by_the_handlers_thread(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stderr", recorder)
    handler = _handler(gather=30.0, late=0.05)
    for round in range(3):  # and again after it has gone idle
        handler.emit(_line(f"alone {round}"))
        deadline = time.monotonic() + 10
        while len(recorder.writes) <= round and time.monotonic() < deadline:
            time.sleep(0.01)
        assert recorder.writes[round] == ("headwater-log-writer", f"alone {round}")
        time.sleep(0.2)  # long enough for the thread to go idle


def test_ctrl_c_while_a_thread_writes_its_batch_loses_no_line(monkeypatch):
    class Interrupted(_Recorder):
        def write(self, text):
            if not self.writes and threading.current_thread() is threading.main_thread():
                self.writes.append(None)
                raise KeyboardInterrupt
            super().write(text)

    recorder = Interrupted()
    monkeypatch.setattr(sys, "stderr", recorder)
    handler = _handler(gather=0.0, late=30.0)
    handler.emit(_line("first"))
    with pytest.raises(KeyboardInterrupt):
        handler.emit(_line("second"))
    handler.flush()
    assert [line for _, line in recorder.writes[1:]] == ["first", "second"]


def test_log_message_is_frozen_when_logged(caplog):
    from headwater.logs import BackgroundStderrHandler

    handler = BackgroundStderrHandler()
    import logging

    record = logging.LogRecord("headwater.test", logging.INFO, __file__, 1, "value %s", None, None)
    items = ["before"]
    record.args = (items,)
    handler.emit(record)
    items.append("after")  # a later change to the argument does not reach the line
    assert record.getMessage() == "value ['before']"
    handler.flush()


# headwater's own lines ("Created task run", "Finished in state") skip the LogRecord when only
# headwater's handlers would see them. The script below runs a flow and prints, as JSON, what
# reached stderr and the store, and how many records of those lines were made.
ROUTES = """
import json, logging, sys
from headwater import flow, task
from headwater.client import get_client

made = []
standard = logging.getLogRecordFactory()

def counting(*args, **kwargs):
    record = standard(*args, **kwargs)
    made.append(record.getMessage())
    return record

logging.setLogRecordFactory(counting)
if sys.argv[1] == "root-handler":  # something besides headwater's handlers sees every line
    logging.getLogger().addHandler(logging.NullHandler())
seen_later = []

class Keep(logging.Handler):
    def emit(self, record):
        seen_later.append(record.getMessage())

@task
def step(i):
    if i == 1 and sys.argv[1] == "added-in-a-task":
        logging.getLogger("headwater").addHandler(Keep())  # from the next line on, it sees them
    return i

@flow(name="routes")
def many():
    return [step(i) for i in range(3)]

many()
[run] = get_client().read_flow_runs(flow_name="routes", limit=1)  # this process's run
stored = [(line.level, line.logger, line.message.replace(run.name, "RUN")) for line in get_client().read_logs(run.id)]
engine_records = [m for m in made if m.startswith(("Created task run", "Finished in state"))]
print(json.dumps({"stored": stored, "engine_records": len(engine_records), "seen_later": seen_later}))
"""


def _routes(run_python, how):
    import json

    proc = run_python(ROUTES, args=[how])
    name = re.search(r"Flow run '([^']+)'", proc.stderr).group(1)
    shown = [re.sub(r"^\d\d:\d\d:\d\d\.\d{3} ", "", line).replace(name, "RUN") for line in proc.stderr.splitlines()]
    return json.loads(proc.stdout), shown


def test_engine_lines_read_the_same_whether_or_not_they_skip_the_record(run_python):
    direct, direct_shown = _routes(run_python, "headwater-only")
    recorded, recorded_shown = _routes(run_python, "root-handler")
    assert direct["engine_records"] == 0  # the shortcut was taken: no record of them was made
    assert recorded["engine_records"] == 7  # two a task run and the flow's end, each a real record for the root handler
    assert direct["stored"] == recorded["stored"]
    assert direct_shown == recorded_shown
    assert "INFO    | Task run 'step-" in "\n".join(direct_shown)
    finished = [message for _, logger, message in direct["stored"] if logger == "headwater.task_runs"]
    assert finished == ["Finished in state Completed()"] * 3


def test_a_handler_added_during_a_run_sees_the_engine_lines_from_then_on(run_python):
    result, _ = _routes(run_python, "added-in-a-task")
    assert result["seen_later"][:1] == ["Finished in state Completed()"]  # step 1's end, logged after it was added
    assert "Created task run 'step-" in result["seen_later"][1] and len(result["seen_later"]) >= 3
    assert result["engine_records"] == len([m for m in result["seen_later"] if m.startswith(("Created", "Finished"))])
