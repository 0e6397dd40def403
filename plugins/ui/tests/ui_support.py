"""What the UI's tests share: the flows that fill a store, a served ``headwater ui``, Chromium's flags."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from headwater import flow, get_run_logger, task
from headwater.artifacts import create_markdown_artifact, create_table_artifact

HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'

_attempts: dict[str, int] = {}


@task(retries=2, retry_delay_seconds=0.05)
def flaky(name: str) -> int:
    _attempts[name] = _attempts.get(name, 0) + 1
    if _attempts[name] < 3:
        raise ValueError(f"attempt {_attempts[name]} of {name} failed")
    return 1


@task(cache_key_fn=lambda context, parameters: f"double-{parameters['x']}")
def double(x: int) -> int:
    get_run_logger().info("doubling %s", x)
    return 2 * x


@task
def add(a: int, b: int) -> int:
    get_run_logger().warning("adding %s and %s", a, b)
    return a + b


@task
def side_effect() -> None:
    get_run_logger().debug("a quiet line")


@flow
def child(x: int) -> int:
    return double(x)


@flow(name="shop")
def shop(n: int = 3) -> int:
    first = flaky.submit("shop")
    doubled = double.submit(first)
    effect = side_effect.submit(wait_for=[doubled])
    total = add.submit(doubled, 1, wait_for=[effect])
    child(n)
    create_table_artifact([{"item": "apples", "count": n}], key="stock")
    result = total.result()
    double(1)  # the same input as doubled's: a cache hit
    return result


@task
def explode() -> None:
    raise RuntimeError("the warehouse is on fire")


@flow(name="broken")
def broken() -> None:
    explode()


@task(task_run_name="t-" + HOSTILE, persist_result=True)
def hostile_task(text: str) -> str:
    get_run_logger().error("log: %s", text)
    return "result: " + text


@flow(name="hostile", flow_run_name="run-" + HOSTILE)
def hostile(text: str = HOSTILE) -> str:
    create_markdown_artifact("# " + HOSTILE, key="hostile-report")
    return hostile_task(text)


class ServedUI:
    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc = proc
        self.url = url.rstrip("/")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_ui(*args: str, env: dict | None = None) -> ServedUI:
    """``headwater ui`` in a process of its own, on a free port; returns once it printed its address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "ui", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    if not found:
        proc.kill()
        raise AssertionError(f"headwater ui printed {line!r}; stderr: {proc.stderr.read()}")
    return ServedUI(proc, found.group(0))


def chromium_path() -> str | None:
    return os.environ.get("HEADWATER_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# Flags for a headless browser on a machine with no display, no GPU and no internet: no
# first-run work, no background requests to Google's services.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def wait_until(condition, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {condition}")


ROOT = Path(__file__).resolve().parents[3]
