"""The ``headwater`` command: look at runs, the cache, concurrency limits, plugins and settings.

Built on click. Each command group lives in its own module; the store, the
plugins and pydantic are imported inside the commands, so that ``headwater
--help`` stays quick.

Exit codes: 0 success, 1 an error headwater reports (an unknown run, a store it
cannot open, ...), 2 a usage error (click's own).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, NoReturn

import click

from ..__about__ import __version__
from ..exceptions import HeadwaterError

__all__ = ["cli", "main", "describe_plugins"]

EPILOG = """\b
Exit codes:
  0  success
  1  error (unknown run, ambiguous id prefix, store or settings problem)
  2  usage error (unknown command or option, missing argument)

\b
Settings come from HEADWATER_* environment variables; see `headwater config`."""


class HeadwaterGroup(click.Group):
    """A group that turns headwater's own errors into a one-line message and exit code 1,
    and adds the commands plugins register (the ``register_commands`` hook)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HeadwaterError as exc:
            raise click.ClickException(str(exc)) from None

    # A built-in command is found without loading any plugin; the plugins are asked only for
    # a word that is not built in, and for the list that --help shows.
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            found = plugin_commands().get(cmd_name)
            command = found.command if found is not None else None
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_commands()})


@click.group(cls=HeadwaterGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="headwater", message="%(prog)s %(version)s")
def cli() -> None:
    """headwater: see what your flows did, and manage the cache and plugins."""


def _register() -> None:
    from ._artifacts import artifacts
    from ._cache import cache
    from ._config import config
    from ._limits import concurrency_limit
    from ._plugins import plugins
    from ._run import run
    from ._runs import runs
    from ._serve import schedules, serve

    for command in (run, serve, schedules, runs, artifacts, cache, concurrency_limit, plugins, config):
        cli.add_command(command)


_register()


def plugin_commands(plugins: Any = None) -> dict[str, Any]:
    """The commands the plugins (the process's own, or ``plugins``) add, by name; none may take a built-in's name."""
    from ..plugins import get_plugins

    return (plugins or get_plugins()).commands(reserved=frozenset(cli.commands))


def describe_plugins() -> dict[str, Any]:
    """What ``headwater plugins ls --json`` prints (for a plugin that shows it elsewhere, such as the web UI)."""
    from ._plugins import describe_plugins as describe

    return describe()


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    # Plugin load failures and the like: one readable line, not a source excerpt.
    click.echo(click.style("Warning: ", fg="yellow") + str(message), err=True)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of the ``headwater`` console script."""
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="headwater")
    except BrokenPipeError:
        # `headwater runs ls | head`: the reader went away; leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    sys.exit(0)  # cli.main exits itself; this only satisfies the type checker
