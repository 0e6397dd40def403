"""``headwater artifacts``: the markdown, tables and links runs published."""

from __future__ import annotations

from typing import Any, Sequence

import click

from . import _output as out
from ._store import open_client


@click.group()
def artifacts() -> None:
    """List and read the artifacts runs published (create_markdown_artifact and the like)."""


@artifacts.command("ls")
@click.option("--all", "all_", is_flag=True, help="Every artifact, each version of a key and those without a key too.")
@click.option("--limit", "-n", metavar="N", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most N artifacts.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of artifact records.")
def artifacts_ls(all_: bool, limit: int, as_json: bool) -> None:
    """List the newest version of each artifact key, newest first (--all: every artifact)."""
    found = open_client().read_artifacts(latest_only=not all_, limit=limit)
    if as_json:
        out.echo_json([a.model_dump(mode="json") for a in found])
        return
    if not found:
        click.echo("No artifacts." if all_ else "No artifacts with a key. `headwater artifacts ls --all` lists those without one too.")
        return
    rows = [[a.key or "-", a.type, out.local_time(a.created), _run_of(a), a.description or "-"] for a in found]
    out.table(["KEY", "TYPE", "CREATED", "RUN", "DESCRIPTION"], rows, flexible=(0, 4))


@artifacts.command("inspect")
@click.argument("key", metavar="KEY")
@click.option("--limit", "-n", metavar="N", type=click.IntRange(min=1), default=10, show_default=True, help="Show at most N versions.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the versions.")
def artifacts_inspect(key: str, limit: int, as_json: bool) -> None:
    """Show the versions of the artifact KEY, newest first, with their content."""
    found = open_client().read_artifacts(key=key, limit=limit)
    if as_json:
        out.echo_json([a.model_dump(mode="json") for a in found])
        return
    if not found:
        raise click.ClickException(f"No artifact has the key {key!r}. List keys with `headwater artifacts ls`.")
    print_artifacts(found, "")


@artifacts.command("rm")
@click.argument("key", metavar="KEY")
def artifacts_rm(key: str) -> None:
    """Delete every version of the artifact KEY."""
    removed = open_client().store.delete_artifacts(key)
    if not removed:
        raise click.ClickException(f"No artifact has the key {key!r}; nothing deleted.")
    click.echo(f"Deleted {removed} version{'s' if removed != 1 else ''} of artifact {key!r}.")


def _run_of(artifact: Any) -> str:
    if artifact.task_run_id:
        return f"task run {artifact.task_run_id[-8:]}"
    if artifact.flow_run_id:
        return f"flow run {artifact.flow_run_id[-8:]}"
    return "-"


def print_artifacts(found: Sequence[Any], indent: str) -> None:
    """Each artifact's heading and its content, as text: markdown as written, a table as a table."""
    for artifact in found:
        title = artifact.key or artifact.id
        click.echo(f"{indent}{click.style(title, bold=True)}  {artifact.type}  {out.local_time(artifact.created)}  {_run_of(artifact)}")
        if artifact.description:
            click.echo(f"{indent}  {artifact.description}")
        if artifact.type == "table":
            headers, rows = _table_rows(artifact.data)
            out.table(headers, rows, indent=indent + "  ")
        else:
            for line in str(artifact.data).splitlines() or [""]:
                click.echo(f"{indent}  {line}")


def _table_rows(data: Any) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows of a table artifact's data (rows of dicts or lists, or a dict of columns)."""
    if isinstance(data, dict):
        headers = list(data)
        columns = [data[name] for name in headers]
        return headers, [[_cell(v) for v in row] for row in zip(*columns)]
    if data and all(isinstance(row, dict) for row in data):
        headers = list(dict.fromkeys(name for row in data for name in row))
        return headers, [[_cell(row.get(name)) for name in headers] for row in data]
    width = max((len(row) for row in data), default=0)
    return [str(i) for i in range(width)], [[_cell(v) for v in row] + [""] * (width - len(row)) for row in data]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
