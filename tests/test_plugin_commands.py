"""The register_commands hook: plugins add commands to the ``headwater`` command line."""

import subprocess
import sys
import warnings

import click
import pytest
from click.testing import CliRunner

import headwater_sqlite
from headwater import hookimpl
from headwater.cli import cli
from headwater.exceptions import PluginError
from headwater.plugins import Plugins, use_plugins


@pytest.fixture
def plugins():
    fresh = Plugins(load_entry_points=False, strict=True)
    fresh.register(headwater_sqlite, name="sqlite")
    with use_plugins(fresh):
        yield fresh


class GreetPlugin:
    @hookimpl
    def register_commands(self, register):
        @click.command()
        @click.argument("who")
        def greet(who):
            """Say hello."""
            click.echo(f"hello {who}")

        register(greet)
        register(greet, name="hi")  # one command under a second name


def test_a_plugin_command_runs_and_is_listed(plugins):
    plugins.register(GreetPlugin(), name="greeter")
    runner = CliRunner()
    assert runner.invoke(cli, ["greet", "Ada"]).output == "hello Ada\n"
    assert runner.invoke(cli, ["hi", "Bo"]).output == "hello Bo\n"
    help_text = runner.invoke(cli, ["--help"]).output
    assert "greet" in help_text and "Say hello." in help_text


def test_plugins_ls_shows_commands_and_the_hook(plugins):
    from headwater.cli._plugins import describe

    plugins.register(GreetPlugin(), name="greeter")
    info = describe(plugins)
    assert [(c["name"], c["plugin"]) for c in info["commands"]] == [("greet", "greeter"), ("hi", "greeter")]
    assert info["commands"][0]["object"].endswith("GreetPlugin.register_commands.<locals>.greet")
    row = next(row for row in info["plugins"] if row["name"] == "greeter")
    assert row["hooks"] == ["register_commands"]


class TakesRuns:
    @hookimpl
    def register_commands(self, register):
        register(click.Command("runs"))


class TakesGreet:
    @hookimpl
    def register_commands(self, register):
        register(click.Command("greet"))


class NotACommand:
    @hookimpl
    def register_commands(self, register):
        register(len)  # (not print: log_prints replaces builtins.print once a run uses it)


def test_a_built_in_name_is_refused_naming_both(plugins):
    plugins.register(TakesRuns(), name="runs-thief")
    with pytest.raises(PluginError, match="'runs' is taken by a built-in command and registered again by plugin 'runs-thief'"):
        CliRunner().invoke(cli, ["--help"], catch_exceptions=False)


def test_two_plugins_with_one_name_are_refused_naming_both(plugins):
    plugins.register(GreetPlugin(), name="greeter")
    plugins.register(TakesGreet(), name="other")
    with pytest.raises(PluginError, match="'greet' is taken by plugin 'greeter' and registered again by plugin 'other'"):
        plugins.commands()


def test_something_else_than_a_click_command_is_refused(plugins):
    plugins.register(NotACommand(), name="wrong")
    with pytest.raises(PluginError, match="expected a click.Command or click.Group, got <built-in function len>"):
        plugins.commands()


def test_outside_strict_mode_a_failing_plugin_loses_only_its_commands():
    fresh = Plugins(load_entry_points=False)
    fresh.register(GreetPlugin(), name="greeter")
    fresh.register(TakesRuns(), name="runs-thief")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(fresh.commands(reserved={"runs"})) == ["greet", "hi"]
    assert "could not register its commands" in str(caught[0].message)
    assert [f.entry_point for f in fresh.failures] == ["runs-thief"]


def test_a_flow_process_never_asks_for_commands(tmp_path):
    """Building commands imports click; a script that only runs flows must not pay for it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "hw_cmd_plugin.py").write_text(
        "from headwater import hookimpl\n"
        "@hookimpl\n"
        "def register_commands(register):\n"
        "    raise SystemExit('register_commands was called')\n"
    )
    info = site / "hw_cmd-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hw-cmd\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[headwater]\nhw_cmd = hw_cmd_plugin\n")
    script = (
        "import sys\n"
        "from headwater import flow\n"
        "@flow\n"
        "def f():\n"
        "    return 1\n"
        "assert f() == 1\n"
        "from headwater.plugins import get_plugins\n"
        "assert 'hw_cmd' in [row['name'] for row in get_plugins().describe()]\n"
        "print('click' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(site), "HEADWATER_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
