"""``headwater run FILE.py:FLOW``: one run of a flow now, from the shell."""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

import click

from ..exceptions import ConfigurationError, ParameterError

if TYPE_CHECKING:
    from ..states import State

PARAM_HELP = "A parameter, KEY=VALUE; VALUE is read as JSON when it is JSON (3, true, [1, 2]), else as text. Repeatable."


@click.command("run")
@click.argument("entrypoint", metavar="FILE.py:FLOW")
@click.option("--param", "-p", "params", metavar="KEY=VALUE", multiple=True, help=PARAM_HELP)
def run(entrypoint: str, params: tuple[str, ...]) -> None:
    """Run a flow once, now, in this process. FILE.py:FLOW may also be package.module:FLOW.

    The parameters are checked against the flow's signature and type hints before the run starts.
    Exit status: 0 when the run Completed, 1 when it did not (or could not start).
    """
    from ..loading import load_flow, parse_parameters

    try:
        flow = load_flow(entrypoint)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE.py:FLOW") from None
    try:
        parameters = parse_parameters(flow, params)
    except ParameterError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    outcome: Any = flow(**parameters, return_state=True)
    if inspect.iscoroutine(outcome):  # an async flow
        import asyncio

        outcome = asyncio.run(outcome)
    state: State = outcome
    click.echo(f"Flow run finished in state {state.name}" + (f": {state.message}" if state.message else "."), err=True)
    sys.exit(0 if state.is_completed() else 1)
