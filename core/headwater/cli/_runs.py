"""``headwater runs``: list flow runs, inspect one, print its logs, delete runs."""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import TYPE_CHECKING, Any, Optional, Sequence

import click

from ..exceptions import AmbiguousRunId, StoreError
from ..runs import short_run_id
from . import _output as out
from ._store import open_client

if TYPE_CHECKING:
    from ..client import Client
    from ..records import FlowRunRecord, StateRecord

_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Since(click.ParamType):
    """``30m``, ``2h``, ``1d``, ``1w`` ago, or an ISO date or datetime (local time unless it says otherwise)."""

    name = "SINCE"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> _dt.datetime:
        if isinstance(value, _dt.datetime):
            return value
        text = str(value).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
            return _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=seconds)
        try:
            moment = _dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither a duration like 30m, 2h, 1d nor an ISO date like 2024-05-01T13:00", param, ctx)
        return moment if moment.tzinfo else moment.astimezone()


def select_flow_runs(
    client: Client, flow: Optional[str], states: Sequence[str], since: Optional[_dt.datetime], limit: int,
    tags: Sequence[str] = (),
) -> list[FlowRunRecord]:
    """Flow runs newest first, of a flow, with tags, since a moment, in states named ``states`` (any case).

    The store filters by flow, tags and time, and by state type when every name asked for is a
    type's (Completed, Failed: the common case); names of other states (TimedOut, Late) are
    matched here, reading on a page at a time until ``limit`` runs match or none are left.
    """
    from headwater.states import StateType
    from headwater.stores import FlowRunQuery

    wanted = {name.lower() for name in states}
    types = {t.value.lower(): t.value for t in StateType}
    pushed = tuple(types[name] for name in sorted(wanted)) if wanted and wanted <= types.keys() else ()
    query = FlowRunQuery(flow_name=flow, state_types=pushed, tags=tuple(tags), since=since)
    if not wanted:
        return client.query_flow_runs(query, limit=limit)
    matched: list[FlowRunRecord] = []
    page, offset = max(limit * 4, 200), 0
    while len(matched) < limit:
        found = client.query_flow_runs(query, limit=page, offset=offset)
        matched += [r for r in found if (r.state_name or "").lower() in wanted]
        if len(found) < page:
            break
        offset += page
    return matched[:limit]


def _state_type(record: Any) -> Optional[str]:
    return str(record.state.type) if record.state is not None else None


def _is_final(record: Any) -> bool:
    return _state_type(record) in _TERMINAL


@click.group()
def runs() -> None:
    """List flow runs, inspect one, print its logs, delete runs."""


@runs.command("ls")
@click.option("--flow", "flow", metavar="NAME", help="Only runs of this flow.")
@click.option("--state", "states", metavar="NAME", multiple=True,
              help="Only runs whose state is NAME (Completed, Failed, Crashed, ...; any case). Repeat for several.")
@click.option("--tag", "tags", metavar="TAG", multiple=True, help="Only runs with this tag. Repeat for runs with all of several.")
@click.option("--since", type=Since(), help="Only runs created since: 30m, 2h, 1d, 1w ago, or an ISO date.")
@click.option("--limit", "-n", metavar="N", type=click.IntRange(min=1), default=20, show_default=True, help="Show at most N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of flow run records.")
def runs_ls(
    flow: Optional[str], states: tuple[str, ...], tags: tuple[str, ...], since: Optional[_dt.datetime], limit: int, as_json: bool
) -> None:
    """List flow runs, newest first."""
    records = select_flow_runs(open_client(), flow, states, since, limit, tags)
    if as_json:
        out.echo_json([r.model_dump(mode="json") for r in records])
        return
    if not records:
        if flow or states or tags or since:
            click.echo("No flow runs match.")
        else:
            click.echo("No flow runs yet. Run a flow, then try again.")
        return
    rows = [
        [short_run_id(r.id), r.name, r.flow_name, r.state_name or "-", out.local_time(r.start_time), _run_duration(r)]
        for r in records
    ]

    def style_state(text: str, n: int) -> str:
        return out.state_style(text, _state_type(records[n]))

    out.table(["ID", "NAME", "FLOW", "STATE", "START", "DURATION"], rows,
              styles=[None, None, None, style_state], flexible=(1, 2))


def _run_duration(record: Any) -> str:
    if record.duration is not None:
        return out.duration(record.duration)
    if record.start_time is not None and not _is_final(record):
        return out.duration(_dt.datetime.now(_dt.timezone.utc) - record.start_time) + " so far"
    return "-"


def _time_in_states(history: Sequence[StateRecord]) -> list[Optional[_dt.timedelta]]:
    """How long the run stayed in each state: until the next one; a final state has no span,
    the newest state of an unfinished run has the time since it began."""
    spans: list[Optional[_dt.timedelta]] = []
    for i, state in enumerate(history):
        if i + 1 < len(history):
            spans.append(history[i + 1].timestamp - state.timestamp)
        elif str(state.type) in _TERMINAL:
            spans.append(None)
        else:
            spans.append(_dt.datetime.now(_dt.timezone.utc) - state.timestamp)
    return spans


def _history_json(history: Sequence[StateRecord]) -> list[dict[str, Any]]:
    return [
        {**state.model_dump(mode="json"), "duration_seconds": span.total_seconds() if span is not None else None}
        for state, span in zip(history, _time_in_states(history))
    ]


def _print_history(history: Sequence[StateRecord], indent: str) -> None:
    if not history:
        click.echo(f"{indent}(no states recorded)")
        return
    rows = []
    for state, span in zip(history, _time_in_states(history)):
        rows.append([out.local_time(state.timestamp, precise=True), state.name, out.duration(span) if span is not None else "", state.message or ""])

    def style_state(text: str, n: int) -> str:
        return out.state_style(text, history[n].type)

    out.table(["TIME", "STATE", "FOR", "MESSAGE"], rows, styles=[None, style_state], flexible=(3,), indent=indent)


def _lookup(client: Client, run: str) -> FlowRunRecord:
    if not run.strip():
        raise click.BadParameter("give a flow run's id, the start or end of one, or a run's name", param_hint="RUN")
    try:
        record = client.read_flow_run(run)
    except AmbiguousRunId as exc:
        raise click.ClickException(str(exc)) from None
    if record is None:
        raise click.ClickException(f"No flow run matches {run!r}. List runs with `headwater runs ls`.")
    return record


@runs.command("inspect")
@click.argument("run", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the flow run, its state history and its task runs as JSON.")
def runs_inspect(run: str, as_json: bool) -> None:
    """Show a flow run: its fields, parameters, state history and task runs.

    RUN is a flow run id, a unique prefix of one, or the run's name (such as 'red-orca').
    """
    client = open_client()
    record = _lookup(client, run)
    history = client.read_state_history(record.id)
    task_runs = client.read_task_runs(flow_run_id=record.id)
    task_histories = [client.read_state_history(t.id) for t in task_runs]
    try:
        published = client.read_artifacts(flow_run_id=record.id, limit=1_000)
    except StoreError:  # a store that keeps no artifacts
        published = []
    if as_json:
        out.echo_json(
            {
                "flow_run": record.model_dump(mode="json"),
                "state_history": _history_json(history),
                "task_runs": [
                    {**t.model_dump(mode="json"), "state_history": _history_json(h)} for t, h in zip(task_runs, task_histories)
                ],
                "artifacts": [a.model_dump(mode="json") for a in published],
            }
        )
        return
    state = record.state
    state_text = out.state_style(record.state_name or "-", _state_type(record))
    if state is not None and state.message:
        state_text += f"  {state.message}"
    click.echo(click.style("Flow run ", bold=True) + click.style(record.name, bold=True, fg="blue"))
    fields = [
        ("id", record.id),
        ("flow", record.flow_name),
        ("version", record.flow_version or "-"),
        ("state", state_text),
        ("created", out.local_time(record.created, precise=True)),
        ("start", out.local_time(record.start_time, precise=True)),
        ("end", out.local_time(record.end_time, precise=True)),
        ("duration", _run_duration(record)),
        ("run count", str(record.run_count)),
        ("tags", ", ".join(record.tags) or "-"),
    ]
    if record.parent_flow_run_id:
        fields.append(("parent flow run", record.parent_flow_run_id))
    if record.parent_task_run_id:
        fields.append(("parent task run", record.parent_task_run_id))
    out.pairs(fields)

    click.echo()
    out.heading("Parameters")
    if record.parameters:
        out.pairs([(name, _short_repr(value)) for name, value in record.parameters.items()])
    else:
        click.echo("  (none)")

    click.echo()
    out.heading("State history")
    _print_history(history, "  ")

    click.echo()
    out.heading(f"Task runs ({len(task_runs)})")
    if not task_runs:
        click.echo("  (none)")
    for task_run, task_history in zip(task_runs, task_histories):
        name = out.state_style(task_run.state_name or "-", _state_type(task_run))
        extra = []
        if task_run.state_name == "Cached":
            extra.append("cache hit")
        if task_run.run_count > 1:
            extra.append(f"{task_run.run_count} attempts")
        if task_run.tags:
            extra.append("tags: " + ", ".join(task_run.tags))
        suffix = f"  ({'; '.join(extra)})" if extra else ""
        click.echo(f"  {click.style(task_run.name, bold=True)}  {name}  {_run_duration(task_run)}{suffix}")
        _print_history(task_history, "      ")

    if published:
        from ._artifacts import print_artifacts

        click.echo()
        out.heading(f"Artifacts ({len(published)})")
        print_artifacts(list(reversed(published)), "  ")  # in the order they were made


def _short_repr(value: Any, width: int = 200) -> str:
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# -- headwater runs logs ------------------------------------------------------------------------

_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_LEVEL_COLOURS = {"DEBUG": "bright_black", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}
_FOLLOW_SECONDS = 0.5


def _print_line(line: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**line.model_dump(mode="json"), "level_name": line.level_name}))
        return
    level = line.level_name
    colour = _LEVEL_COLOURS.get(level)
    level_text = level.ljust(7)
    first, *rest = line.message.splitlines() or [""]
    click.echo(
        f"{out.local_time(line.timestamp, precise=True)}  {click.style(level_text, fg=colour) if colour else level_text}"
        f"  {click.style(line.run_name or short_run_id(line.run_id), bold=True)}  {first}"
    )
    for more in rest:  # a traceback's lines, indented under the line they belong to
        click.echo(f"    {more}")


@runs.command("logs")
@click.argument("run", metavar="RUN")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run reaches a final state.")
@click.option("--level", type=click.Choice(_LEVELS, case_sensitive=False), default="DEBUG", show_default=True,
              help="Only lines at this level or above.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def runs_logs(run: str, follow: bool, level: str, as_json: bool) -> None:
    """Print the stored log lines of a flow run and of its task runs, oldest first.

    RUN is a flow run id, a unique prefix of one, or the run's name. Lines are kept at the level
    of HEADWATER_LOGGING_LEVEL when the run ran.
    """
    import logging
    import time

    client = open_client()
    record = _lookup(client, run)
    min_level = logging.getLevelName(level.upper())
    last_id = 0
    while True:
        # The state first: once it is final, the lines read after it include the run's last ones.
        final = _is_final(client.read_flow_run(record.id) or record)
        for line in client.read_logs(record.id, min_level=min_level, after_id=last_id):
            _print_line(line, as_json)
            last_id = line.id
        if not follow:
            return
        if final:
            time.sleep(_FOLLOW_SECONDS)  # lines queued with the final state land in the next batch at most
            for line in client.read_logs(record.id, min_level=min_level, after_id=last_id):
                _print_line(line, as_json)
            return
        time.sleep(_FOLLOW_SECONDS)


# -- headwater runs delete ----------------------------------------------------------------------

@runs.command("resume")
@click.argument("run", metavar="RUN")
def runs_resume(run: str) -> None:
    """Resume a flow run that is Paused in pause_flow_run (its process goes on within a second or so).

    RUN is a flow run id, a unique prefix of one, or the run's name.
    """
    from ..flow_runs import resume_flow_run

    record = _lookup(open_client(), run)
    resume_flow_run(record.id)
    click.echo(f"Asked flow run '{record.name}' to resume.")


@runs.command("delete")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Delete runs that are not finished (Pending, Running, Scheduled) too.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was deleted as JSON.")
def runs_delete(run_refs: tuple[str, ...], force: bool, yes: bool, as_json: bool) -> None:
    """Delete flow runs with their subflow runs, task runs, states and log lines.

    Each RUN is a flow run id, a unique prefix of one, or a run's name. Cache entries stay, and so
    do the results they point at: later runs still reuse them.
    """
    import sys

    client = open_client()
    records = list({r.id: r for r in (_lookup(client, ref) for ref in run_refs)}.values())
    unfinished = [r for r in records if not _is_final(r)]
    if unfinished and not force:
        names = ", ".join(f"'{r.name}' ({r.state_name or 'no state'})" for r in unfinished)
        raise click.ClickException(
            f"Not deleting unfinished flow run{'s' if len(unfinished) > 1 else ''} {names}: it may still be running. "
            "Wait for it to finish, or pass --force."
        )
    if not yes and sys.stdin.isatty():
        names = ", ".join(f"'{r.name}'" for r in records)
        click.confirm(f"Delete flow run{'s' if len(records) > 1 else ''} {names} with their task runs, states and logs?", abort=True)
    deleted = client.store.delete_flow_runs([r.id for r in records])
    if as_json:
        import dataclasses

        out.echo_json({"deleted": [{"id": r.id, "name": r.name} for r in records], **dataclasses.asdict(deleted)})
        return
    click.echo(
        f"Deleted {deleted.flow_runs} flow run{'s' if deleted.flow_runs != 1 else ''}, {deleted.task_runs} task run"
        f"{'s' if deleted.task_runs != 1 else ''} and {deleted.log_lines} log line{'s' if deleted.log_lines != 1 else ''}."
    )
