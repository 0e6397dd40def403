"""Two hosts on one PostgreSQL record: processes in two network namespaces with host names of their own.

"Host A" runs in this machine's network namespace, "host B" in a namespace the test makes,
joined to it by a veth pair; each runs under a UTS namespace with its own host name, so the
store tells their processes apart as a real second machine's would be (a pid of host B cannot
be checked from host A). PostgreSQL listens on the veth address. Needs root, ``ip netns``
(iproute2) and ``unshare``; skipped, saying which, where they are not there or not permitted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from headwater_postgres.testing import binaries, throwaway_server

NAMESPACE = f"hw-b-{os.getpid()}"
HOST_SIDE, NAMESPACE_SIDE = "10.231.7.1", "10.231.7.2"


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_hosts():
    """The URL of a server both hosts reach: (url seen from host A, url seen from host B)."""
    if os.geteuid() != 0:
        pytest.skip("making network namespaces needs root")
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        pytest.skip("needs ip (iproute2) and unshare (util-linux)")
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    made = _run("ip", "netns", "add", NAMESPACE)
    if made.returncode != 0:
        pytest.skip(f"ip netns add is not permitted here: {made.stderr.strip()}")
    veth, peer = f"hwa{os.getpid() % 100000}", f"hwb{os.getpid() % 100000}"
    try:
        for command in (
            ("ip", "link", "add", veth, "type", "veth", "peer", "name", peer),
            ("ip", "link", "set", peer, "netns", NAMESPACE),
            ("ip", "addr", "add", f"{HOST_SIDE}/30", "dev", veth),
            ("ip", "link", "set", veth, "up"),
            ("ip", "netns", "exec", NAMESPACE, "ip", "addr", "add", f"{NAMESPACE_SIDE}/30", "dev", peer),
            ("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", peer, "up"),
            ("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up"),
        ):
            done = _run(*command)
            if done.returncode != 0:
                pytest.skip(f"{' '.join(command)} failed: {done.stderr.strip()}")
        with throwaway_server(listen=(HOST_SIDE, "127.0.0.1"), trusted=("10.231.7.0/30",)) as url:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("CREATE DATABASE two_hosts")
            yield url.rsplit("/", 1)[0] + "/two_hosts"
    finally:
        _run("ip", "link", "del", veth)
        _run("ip", "netns", "del", NAMESPACE)


def _on_host(host: str, code: str, url: str, tmp_path, **env: str) -> subprocess.Popen:
    """A Python process on ``host`` ("host-a": this namespace; "host-b": the other), named so."""
    wrapper = ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$0" "$@"', sys.executable, "-c", textwrap.dedent(code)]
    command = wrapper if host == "host-a" else ["ip", "netns", "exec", NAMESPACE, *wrapper]
    environ = {
        **os.environ, "HEADWATER_STORE": "postgres", "HEADWATER_DATABASE_URL": url, "HEADWATER_PROGRESS": "off",
        "HEADWATER_HOME": str(tmp_path / host), **env,
    }
    return subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


LIMITED = """
    import os, time
    from headwater import flow, task

    @task(tags=["shared-db"])
    def hold(n: int) -> None:
        start = time.time()
        time.sleep(0.05)
        with open(os.environ["SPANS"], "a") as spans:  # when the function ran: what the slot guards (one clock, one machine)
            spans.write(f"{start} {time.time()}\\n")

    @flow(name="two-hosts")
    def busy():
        for future in [hold.submit(n) for n in range(6)]:
            future.wait()

    busy()
"""


def test_runs_of_both_hosts_are_recorded_and_a_tag_limit_of_one_holds_across_them(two_hosts, tmp_path):
    _finish(_on_host("host-a", "from headwater.cli import main; main(['concurrency-limit', 'create', 'shared-db', '1'])", two_hosts, tmp_path))
    spans_file = tmp_path / "spans"
    processes = [_on_host(host, LIMITED, two_hosts, tmp_path, SPANS=str(spans_file)) for host in ("host-a", "host-b")]
    for process in processes:
        _finish(process)
    with psycopg.connect(two_hosts) as conn:
        assert sorted(conn.execute("SELECT host FROM flow_runs WHERE state_type = 'COMPLETED'").fetchall()) == [("host-a",), ("host-b",)]
        hosts = conn.execute("SELECT host, count(*) FROM task_runs WHERE state_type = 'COMPLETED' GROUP BY host ORDER BY host").fetchall()
    assert hosts == [("host-a", 6), ("host-b", 6)]
    spans = sorted(tuple(map(float, line.split())) for line in spans_file.read_text().splitlines())
    assert len(spans) == 12
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two task runs held the one slot of 'shared-db' at the same time"


SLEEPER = """
    import time
    from headwater import flow

    @flow(name="left-on-host-b")
    def sleeper():
        time.sleep(60)

    sleeper()
"""

OPEN_STORE = "from headwater.stores import get_store; get_store()"  # opening it looks for crashed runs


def _state_of_the_run_on_b(url: str) -> tuple[str, str]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state_name, state_message FROM flow_runs WHERE flow_name = 'left-on-host-b'").fetchone()


def test_a_killed_process_on_host_b_is_recorded_crashed_from_host_a_after_the_heartbeat_timeout(two_hosts, tmp_path):
    beats = {"HEADWATER_HEARTBEAT_INTERVAL": "0.2", "HEADWATER_HEARTBEAT_TIMEOUT": "1.5"}
    sleeper = _on_host("host-b", SLEEPER, two_hosts, tmp_path, **beats)
    try:
        deadline = time.monotonic() + 30
        with psycopg.connect(two_hosts, autocommit=True) as conn:
            while conn.execute("SELECT count(*) FROM flow_runs WHERE flow_name = 'left-on-host-b' AND state_type = 'RUNNING'").fetchone() != (1,):
                assert time.monotonic() < deadline and sleeper.poll() is None, sleeper.stderr.read() if sleeper.poll() is not None else "not Running"
                time.sleep(0.1)
        time.sleep(3)  # twice the timeout: host B's heartbeats keep its run Running
        _finish(_on_host("host-a", OPEN_STORE, two_hosts, tmp_path, **beats))
        assert _state_of_the_run_on_b(two_hosts)[0] == "Running"
    finally:
        os.killpg(sleeper.pid, signal.SIGKILL)
        sleeper.wait()
    time.sleep(2)
    _finish(_on_host("host-a", OPEN_STORE, two_hosts, tmp_path, **beats))
    state, message = _state_of_the_run_on_b(two_hosts)
    assert state == "Crashed" and "on host-b" in message and "HEADWATER_HEARTBEAT_TIMEOUT" in message
