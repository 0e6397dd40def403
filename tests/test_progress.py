"""The live progress line: drawn under a terminal, never in a pipe, and never cut into log lines."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from headwater import flow
from headwater.exceptions import ConfigurationError
from headwater.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX-only")

# The tasks wait for a gate file: the test opens it once it has seen a progress line (or, where
# no line may appear, the flow opens it itself after a few redraw intervals).
SCRIPT = r'''
import os
import sys
import time

from headwater import flow, task
from headwater.progress import REFRESH_INTERVAL
from headwater.tasks import task_input_hash

mode, gate = sys.argv[1], sys.argv[2]


@task
def gated(i):
    while not os.path.exists(gate):
        time.sleep(0.01)
    return i


@task
def broken():
    raise ValueError("on purpose")


@task(cache_key_fn=task_input_hash)
def remembered(x):
    return x


@flow
def warm_cache():
    remembered(1)  # called, not submitted: this flow run shows no line


@flow
def inner():
    return [f.result() for f in [gated.submit(i) for i in range(5)]]


@flow(task_runner="concurrent")
def many():
    futures = [gated.submit(i) for i in range(30)]
    if mode == "mixed":
        broken.submit()
        remembered.submit(1)
    if mode == "subflow":
        inner()
    if mode == "self-gated":
        time.sleep(4 * REFRESH_INTERVAL)
        open(gate, "w").close()
    return [f.result() for f in futures]


if mode == "mixed":
    warm_cache()
print(many(return_state=True).type)
'''

CLEAR = "\r\x1b[2K"
PROGRESS = re.compile(r"Flow run '[\w-]+': (\d+) submitted, (\d+) running, (\d+) done, (\d+) cached, (\d+) failed$")
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d{3} \| [A-Z]+ +\| ")


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "progress_flow.py"
    path.write_text(SCRIPT)
    return path


def _env(**extra):
    env = {key: value for key, value in os.environ.items() if key != "HEADWATER_PROGRESS"}
    env.update(extra)
    return env


def run_under_terminal(script, mode, gate, env, open_gate_on=None):
    """Run the script with stderr on a pseudo-terminal; return everything written to it.

    ``open_gate_on``: a pattern that, once seen on the terminal, makes the test open the gate.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(gate)], stdout=subprocess.PIPE, stderr=slave, env=env, text=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120  # a hung child fails the test instead of hanging it
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
            if open_gate_on is not None and open_gate_on.search(b"".join(chunks).decode(errors="replace")):
                gate.touch()
                open_gate_on = None
        else:
            pytest.fail("the flow script did not finish:\n" + b"".join(chunks).decode(errors="replace"))
    finally:
        os.close(master)
        gate.touch()  # never leave a child waiting
        stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    # The terminal turns each "\n" into "\r\n".
    return b"".join(chunks).decode().replace("\r\n", "\n"), stdout


def pieces(output):
    """Every piece of text between line ends and line clears."""
    for line in output.split("\n"):
        yield from (piece.rstrip("\r") for piece in line.split(CLEAR))


def progress_lines(output):
    return [match.groups() for match in map(PROGRESS.match, pieces(output)) if match]


def final_counts(output):
    """The counts of the line left on screen: the last progress line, ended by a newline."""
    finished = [line for line in output.split("\n") if PROGRESS.search(line)]
    assert finished, output
    last = finished[-1].split(CLEAR)[-1]
    assert PROGRESS.fullmatch(last), output
    return tuple(int(n) for n in PROGRESS.fullmatch(last).groups())


def test_counts_redrawn_in_place_and_left_on_screen(script, tmp_path):
    gate = tmp_path / "gate"
    output, stdout = run_under_terminal(script, "plain", gate, _env(), open_gate_on=re.compile(r"30 submitted, \d+ running"))
    assert stdout.strip() == "COMPLETED"
    # While the gate was shut, the line said 30 runs were submitted and none had finished.
    gated = next(counts for counts in progress_lines(output) if counts[0] == "30")
    assert gated[2:] == ("0", "0", "0")
    # submitted, running, done, cached, failed
    assert final_counts(output) == (30, 0, 30, 0, 0)


def test_failed_and_cached_runs_are_counted(script, tmp_path):
    gate = tmp_path / "gate"
    output, stdout = run_under_terminal(script, "mixed", gate, _env(), open_gate_on=re.compile(r"32 submitted"))
    assert stdout.strip() == "FAILED"
    assert final_counts(output) == (32, 0, 30, 1, 1)
    # The warm-up flow run submitted nothing, so it left no line: only the second flow run's name appears.
    assert len({line.split(":")[0] for line in pieces(output) if PROGRESS.match(line)}) == 1


def test_subflow_task_runs_count_into_the_top_level_line(script, tmp_path):
    gate = tmp_path / "gate"
    output, _ = run_under_terminal(script, "subflow", gate, _env(), open_gate_on=re.compile(r"35 submitted"))
    assert final_counts(output) == (35, 0, 35, 0, 0)


def test_log_lines_are_never_cut_by_the_progress_line(script, tmp_path):
    gate = tmp_path / "gate"
    output, _ = run_under_terminal(script, "plain", gate, _env(), open_gate_on=re.compile(r"30 submitted"))
    for piece in pieces(output):
        assert piece == "" or LOG_LINE.match(piece) or PROGRESS.fullmatch(piece), repr(piece)
    # Each of the 30 task runs' last lines is whole.
    assert len(re.findall(r"Task run 'gated-[\w]+-\d+' - Finished in state Completed\(\)\n", output)) == 30


def test_off_draws_nothing_on_a_terminal(script, tmp_path):
    output, stdout = run_under_terminal(script, "self-gated", tmp_path / "gate", _env(HEADWATER_PROGRESS="off"))
    assert stdout.strip() == "COMPLETED"
    assert "Finished in state Completed()" in output  # the log lines are there
    assert "submitted" not in output and CLEAR not in output


def test_nothing_is_drawn_into_a_pipe(script, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(script), "self-gated", str(tmp_path / "gate")],
        capture_output=True, text=True, env=_env(), timeout=120, check=True,
    )
    assert "Finished in state Completed()" in proc.stderr
    assert "submitted" not in proc.stderr and "\x1b" not in proc.stderr


def test_on_draws_even_into_a_pipe(script, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(script), "self-gated", str(tmp_path / "gate")],
        capture_output=True, env=_env(HEADWATER_PROGRESS="ON"), timeout=120, check=True,
    )
    # Read as bytes: a text-mode pipe would turn the line's carriage returns into newlines.
    assert final_counts(proc.stderr.decode()) == (30, 0, 30, 0, 0)


def test_a_bad_value_names_the_variable_the_value_and_the_choices(monkeypatch):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"HEADWATER_PROGRESS": "sometimes"})
    message = str(caught.value)
    assert "HEADWATER_PROGRESS='sometimes'" in message
    assert "auto, on, off" in message

    @flow
    def nothing():
        return 1

    monkeypatch.setenv("HEADWATER_PROGRESS", "sometimes")
    with pytest.raises(ConfigurationError, match="HEADWATER_PROGRESS"):
        nothing()


@pytest.mark.parametrize("value, mode", [("auto", "auto"), (" On ", "on"), ("OFF", "off")])
def test_values_are_read_in_any_case(value, mode):
    assert Settings.from_env({"HEADWATER_PROGRESS": value}).progress == mode
    assert Settings.from_env({}).progress == "auto"
