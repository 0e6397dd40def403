"""Run logs: every line reaches stderr, in order, even though a background thread writes them."""

import re
import subprocess
import sys

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
