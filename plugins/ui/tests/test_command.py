"""``headwater ui`` as a command: its address, its refusals, and stopping it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from ui_support import start_ui


def _headwater(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_it_serves_until_ctrl_c_and_then_exits_cleanly(headwater_home):
    ui = start_ui()
    with urllib.request.urlopen(ui.url + "/api/flow-runs") as response:
        assert response.status == 200 and response.read() == b"[]"
    ui.proc.send_signal(signal.SIGINT)
    assert ui.proc.wait(timeout=10) == 0
    assert "stopped" in ui.proc.stdout.read()


def test_a_port_in_use_is_named_with_the_option(headwater_home):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = _headwater("ui", "--port", str(port))
    finally:
        taken.close()
    assert result.returncode == 2
    assert "'--port'" in result.stderr and f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert f"--port {port + 1}" in result.stderr


def test_another_address_needs_a_token(headwater_home):
    result = _headwater("ui", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "--host 0.0.0.0" in result.stderr and "--token" in result.stderr and "HEADWATER_UI_TOKEN" in result.stderr
    short = _headwater("ui", "--host", "0.0.0.0", "--token", "abc")
    assert short.returncode == 2 and "shorter than 16" in short.stderr
    bad_host = _headwater("ui", "--host", "no-such-host.invalid", "--token", "a-long-enough-token")
    assert bad_host.returncode == 2 and "'--host'" in bad_host.stderr


def test_a_token_from_the_environment_guards_every_address(headwater_home):
    ui = start_ui("--host", "0.0.0.0", env={"HEADWATER_UI_TOKEN": "from-the-environment-1"})
    try:
        assert "?token=from-the-environment-1" in ui.url
        port = ui.url.split(":")[2].split("/")[0]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/flow-runs")
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/flow-runs", headers={"Authorization": "Bearer from-the-environment-1"})
        assert urllib.request.urlopen(request).status == 200
    finally:
        ui.stop()


def test_generate_makes_a_token(headwater_home):
    ui = start_ui("--token", "generate")
    try:
        token = ui.url.split("?token=")[1]
        assert len(token) >= 24 and token != "generate"
    finally:
        ui.stop()


def test_the_command_is_listed_by_plugins_ls_and_help(headwater_home):
    listed = _headwater("plugins", "ls")
    assert listed.returncode == 0
    assert "headwater-ui" in listed.stdout and "register_commands" in listed.stdout
    help_text = _headwater("--help").stdout
    assert "ui" in help_text.split("Commands:")[1]
    assert "--port" in _headwater("ui", "--help").stdout


def test_an_idle_ui_sleeps(headwater_home):
    """No page open: the process uses no CPU between requests (uvicorn's 10-a-second tick is gone)."""
    ui = start_ui()
    try:
        urllib.request.urlopen(ui.url + "/api/flow-runs").read()
        time.sleep(0.5)

        def cpu_ticks():
            fields = open(f"/proc/{ui.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        before = cpu_ticks()
        time.sleep(3)
        assert cpu_ticks() - before <= 1  # a clock tick is 10 ms; uvicorn's own loop used 6 in 3 s
    finally:
        ui.stop()
