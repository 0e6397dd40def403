"""``headwater serve`` and ``headwater schedules``: flows run on a schedule, with the store as the only thing shared."""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Optional

import click

from ..exceptions import ConfigurationError, ParameterError
from . import _output as out
from ._run import PARAM_HELP
from ._store import open_client


@click.command("serve")
@click.argument("entrypoint", metavar="FILE.py:FLOW")
@click.option("--cron", metavar="EXPR", help="Run at the times a cron expression names, such as '0 * * * *'.")
@click.option("--interval", metavar="SECONDS", type=float, help="Run every SECONDS seconds.")
@click.option("--param", "-p", "params", metavar="KEY=VALUE", multiple=True, help=PARAM_HELP)
@click.option("--timezone", metavar="TZ", help="The time zone the cron expression is read in (IANA name); default UTC.")
@click.option("--name", metavar="NAME", help="The schedule's name; default the flow's name.")
@click.option("--in-process", is_flag=True, help="Run each run in this process, not in a child process of its own.")
@click.option("--missed", type=click.Choice(["latest", "none", "all"]), default="latest", show_default=True,
              help="Runs due while nothing served the schedule: run the latest, none, or all.")
@click.option("--overlap", type=click.Choice(["skip", "allow"]), default="skip", show_default=True,
              help="A run due while the previous one still runs: skip it (recorded) or start it anyway.")
@click.option("--late-after", metavar="SECONDS", type=float, default=10.0, show_default=True, help="A run that starts this late is recorded Late first.")
@click.option("--jitter", metavar="SECONDS", type=float, default=0.0, show_default=True, help="Start each run up to this much later, at random.")
@click.option("--shutdown-timeout", metavar="SECONDS", type=float, default=30.0, show_default=True,
              help="At Ctrl-C or SIGTERM, wait this long for runs in progress before stopping them.")
def serve(
    entrypoint: str, cron: Optional[str], interval: Optional[float], params: tuple[str, ...], timezone: Optional[str],
    name: Optional[str], in_process: bool, missed: str, overlap: str, late_after: float, jitter: float, shutdown_timeout: float,
) -> None:
    """Run a flow on a schedule until Ctrl-C or SIGTERM. Give exactly one of --cron and --interval."""
    from ..loading import load_flow, parse_parameters
    from ..schedules import make_schedule
    from ..serving import Server

    try:
        flow = load_flow(entrypoint)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE.py:FLOW") from None
    try:
        parameters = parse_parameters(flow, params) if params else {}
    except ParameterError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    schedule_name = name or flow.name
    try:
        schedule = make_schedule(cron=cron, interval=interval, timezone=timezone)
        server = Server(
            flow, schedule_name, schedule, parameters=parameters, entrypoint=None if in_process else entrypoint,
            in_process=in_process, missed=missed, overlap=overlap, late_after=late_after, jitter=jitter,
            shutdown_timeout=shutdown_timeout,
        )
    except ConfigurationError as exc:
        # The same errors as Flow.serve's, with the options named as the command line spells them.
        message = re.sub(r"\b(cron|interval|timezone|missed|overlap|late_after|jitter|shutdown_timeout)=(?=\s|$)", r"--\1", str(exc))
        message = re.sub(r"\b(cron|interval|timezone|late_after|jitter|shutdown_timeout)=", lambda m: "--" + m.group(1).replace("_", "-") + " ", message)
        raise click.UsageError(message) from None
    click.echo(f"Serving {flow.name!r} as schedule {schedule_name!r} ({schedule.describe()}). Ctrl-C to stop.", err=True)
    server.run_forever()


@click.group()
def schedules() -> None:
    """The flows served on a schedule: list, pause, resume, run now."""


@schedules.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of schedules with their next run times.")
def schedules_ls(as_json: bool) -> None:
    """List schedules: flow, schedule, next run time, paused or not, the process serving it."""
    from ..processes import current_process, is_alive
    from ..serving import schedule_of

    found = open_client().store.read_schedules()
    now = _dt.datetime.now(_dt.timezone.utc)
    rows = []
    for record in found:
        upcoming = next(iter(schedule_of(record.spec).after(now)))
        served = record.pid is not None and record.host == current_process().host and is_alive(record.host, record.pid, None) is not False
        rows.append((record, upcoming, served))
    if as_json:
        out.echo_json([{**r.model_dump(mode="json"), "next_run_time": u.isoformat(), "served": s} for r, u, s in rows])
        return
    if not rows:
        click.echo("No schedules. Serve a flow with `headwater serve FILE.py:FLOW --interval 60`.")
        return
    out.table(
        ["NAME", "FLOW", "SCHEDULE", "NEXT RUN", "PAUSED", "SERVED BY"],
        [
            [r.name, r.flow_name, schedule_of(r.spec).describe(), "-" if r.paused else out.local_time(u), "yes" if r.paused else "no",
             f"pid {r.pid} on {r.host}" if s else "nothing now"]
            for r, u, s in rows
        ],
        flexible=(0, 1, 2),
    )


def _known(name: str) -> None:
    if not open_client().store.read_schedules(name):
        raise click.ClickException(f"No schedule is named {name!r}. List them with `headwater schedules ls`.")


@schedules.command("pause")
@click.argument("name", metavar="NAME")
def schedules_pause(name: str) -> None:
    """Stop starting runs of schedule NAME (due times pass unrun) until it is resumed."""
    _known(name)
    open_client().store.set_schedule_paused(name, True)
    click.echo(f"Paused schedule {name!r}.")


@schedules.command("resume")
@click.argument("name", metavar="NAME")
def schedules_resume(name: str) -> None:
    """Start runs of a paused schedule NAME again, from its next due time."""
    _known(name)
    open_client().store.set_schedule_paused(name, False)
    click.echo(f"Resumed schedule {name!r}.")


@schedules.command("run")
@click.argument("name", metavar="NAME")
@click.option("--param", "-p", "params", metavar="KEY=VALUE", multiple=True, help=PARAM_HELP)
def schedules_run(name: str, params: tuple[str, ...]) -> None:
    """Ask the process serving NAME for a run now (it starts within a second or so)."""
    _known(name)
    parameters = {}
    for word in params:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{word!r} is not KEY=VALUE", param_hint="--param")
        try:
            parameters[key] = json.loads(text)
        except ValueError:
            parameters[key] = text
    open_client().store.request_schedule_run(name, parameters)
    click.echo(f"Asked schedule {name!r} for a run now.")
