"""A tour of headwater in a few seconds: retries, caching, both task runners, and the run records.

    python examples/tutorial_flow.py

headwater's log lines go to stderr; the tour's own commentary (the lines that
start with "==" or "  ") goes to stdout. Runs are recorded in the store under
HEADWATER_HOME (default ~/.headwater); run the script twice within a minute and
the cached task is reused across the two processes.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner
from headwater.tasks import task_input_hash


def say(text: str = "") -> None:
    # flush, so that the commentary stays in step with the log lines on stderr
    print(text, flush=True)


# -- 1. Retries -----------------------------------------------------------------------------
# The task fails twice, then succeeds. With retries=2 it gets three attempts in all.

attempts = 0


@task(retries=2, retry_delay_seconds=0.2, tags=["tutorial"])
def fetch_rows() -> list[int]:
    """Pretend to call a service that needs a moment to wake up."""
    global attempts
    attempts += 1
    if attempts < 3:
        raise ConnectionError(f"attempt {attempts}: the service is still waking up")
    return [3, 1, 2]


@flow(name="retry-demo", description="A task that fails twice, then succeeds.", version="tutorial-1")
def retry_demo() -> list[int]:
    rows = fetch_rows()
    get_run_logger().info("Got %d rows after %d attempts", len(rows), attempts)
    return rows


# -- 2. Caching ----------------------------------------------------------------------------
# task_input_hash keys the cache on the task and its inputs; a second call with the same
# input finds a Completed entry under that key and becomes Cached without running.


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=1))
def slow_square(n: int) -> int:
    time.sleep(1)  # something expensive
    return n * n


@flow
def cache_demo(n: int) -> int:
    return slow_square(n)


# -- 3. Task runners -------------------------------------------------------------------------
# .submit() hands a task run to the flow's task runner and returns a future at once.
# A future passed as an argument to another task is resolved before that task runs.


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def square(x: int) -> int:
    return x * x


@flow(task_runner=SequentialTaskRunner())
def pipeline(num: int) -> tuple[int, int]:
    plus = add.submit(num, num)
    squared = square.submit(plus)  # `plus` is a future: square waits for it and gets its value
    return plus.result(), squared.result()


@task
def download(part: int) -> int:
    time.sleep(0.5)  # waiting on I/O: other runs can go on meanwhile
    return part * 10


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow(task_runner=ConcurrentTaskRunner(max_workers=4))
def fan_out() -> int:
    parts = [download.submit(i) for i in range(4)]
    return total.submit(parts).result()  # a list of futures is resolved too


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def newest_task_state(client, flow_name: str) -> str:
    run = client.read_flow_runs(flow_name=flow_name, limit=1)[0]
    return client.read_task_runs(flow_run_id=run.id)[0].state.name


def main() -> None:
    began = datetime.now(timezone.utc)
    client = get_client()

    say("== 1. Retries: fetch_rows fails twice, then succeeds")
    rows = retry_demo()
    say(f"  retry_demo() returned {rows} after {attempts} attempts")
    say()

    say("== 2. Caching with task_input_hash: the same flow, called twice with the same input")
    for call in ("first", "second"):
        value, seconds = timed(cache_demo, 12)
        state = newest_task_state(client, "cache-demo")
        say(f"  {call} call: {value} in {seconds:.2f}s, slow_square finished {state}")
    say("  (run the script again within a minute: the first call is Cached too, from this run's entry)")
    say()

    say("== 3a. SequentialTaskRunner: submitted runs, one at a time; a future feeds the next task")
    plus, squared = pipeline(5)
    say(f"  add: {plus}, square: {squared}")
    say()

    say("== 3b. ConcurrentTaskRunner vs SequentialTaskRunner: four 0.5s downloads")
    concurrent_total, concurrent_seconds = timed(fan_out)
    sequential_total, sequential_seconds = timed(fan_out.with_options(task_runner=SequentialTaskRunner()))
    say(f"  concurrent: total={concurrent_total} in {concurrent_seconds:.2f}s")
    say(f"  sequential: total={sequential_total} in {sequential_seconds:.2f}s")
    say()

    say("== 4. What the store recorded (read back through headwater.client.get_client())")
    runs = [run for run in client.read_flow_runs(limit=50) if run.created >= began]
    for run in reversed(runs):  # oldest first
        tasks = client.read_task_runs(flow_run_id=run.id)
        counts = Counter(f"{t.task_name}={t.state.name}" for t in tasks)
        summary = ", ".join(f"{what} x{n}" if n > 1 else what for what, n in counts.items())
        duration = f"{run.duration.total_seconds():.2f}s" if run.duration else "-"
        say(f"  {run.name:<22} {run.flow_name:<11} {run.state.name:<10} {duration:>6}  tasks: {summary}")

    retry_run = next(run for run in runs if run.flow_name == "retry-demo")
    fetch = client.read_task_runs(flow_run_id=retry_run.id)[0]
    say()
    say(f"  State history of task run {fetch.name!r} (run_count={fetch.run_count}):")
    for state in client.read_state_history(fetch.id):
        stamp = state.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]  # local time, as in the logs
        say(f"    {stamp}  {state.name:<14} {state.message or ''}".rstrip())


if __name__ == "__main__":
    main()
