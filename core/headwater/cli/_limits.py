"""``headwater concurrency-limit``: limit how many task runs with a tag run at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from . import _output as out
from ._store import open_client

if TYPE_CHECKING:
    from ..concurrency import ConcurrencyLimit


def _as_dict(limit: ConcurrencyLimit) -> dict[str, Any]:
    return {
        "tag": limit.tag,
        "limit": limit.limit,
        "active": limit.active,
        "created": limit.created.isoformat(),
        "holders": [
            {"task_run_id": h.task_run_id, "task_run_name": h.task_run_name, "host": h.host, "pid": h.pid, "acquired": h.acquired.isoformat()}
            for h in limit.holders
        ],
    }


def _no_limit(tag: str) -> click.ClickException:
    return click.ClickException(
        f"Tag {tag!r} has no concurrency limit. `headwater concurrency-limit ls` lists the limits; "
        f"`headwater concurrency-limit create {tag} N` makes one."
    )


@click.group("concurrency-limit")
def concurrency_limit() -> None:
    """Limit how many task runs with a tag run at once, across every process using the store."""


@concurrency_limit.command("create", context_settings={"ignore_unknown_options": True})  # so that -1 reaches LIMIT
@click.argument("tag")
@click.argument("limit", type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Print the limit as JSON.")
def create(tag: str, limit: int, as_json: bool) -> None:
    """Allow at most LIMIT task runs tagged TAG to run at once (changes the limit if TAG has one).

    A task run that finds the tag full waits in the AwaitingConcurrencySlot state.
    A limit of 0 stops the tag's task runs: they are Cancelled instead of started.
    """
    created = open_client().create_concurrency_limit(tag, limit)
    if as_json:
        out.echo_json(_as_dict(created))
    else:
        click.echo(f"Tag {tag!r} is limited to {limit} concurrent task run{'' if limit == 1 else 's'}.")


@concurrency_limit.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def ls(as_json: bool) -> None:
    """List the limits and how many of each tag's slots are taken."""
    limits = open_client().read_concurrency_limits()
    if as_json:
        out.echo_json([_as_dict(limit) for limit in limits])
        return
    if not limits:
        click.echo("No concurrency limits. Create one with `headwater concurrency-limit create TAG N`.")
        return
    out.table(
        ["TAG", "LIMIT", "ACTIVE", "CREATED"],
        [[limit.tag, str(limit.limit), str(limit.active), out.local_time(limit.created)] for limit in limits],
        flexible=[0],
    )


@concurrency_limit.command("inspect")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True, help="Print the limit and its slot holders as JSON.")
def inspect(tag: str, as_json: bool) -> None:
    """Show TAG's limit and the task runs holding its slots now."""
    limit = open_client().read_concurrency_limit(tag)
    if limit is None:
        raise _no_limit(tag)
    if as_json:
        out.echo_json(_as_dict(limit))
        return
    out.heading(f"Concurrency limit of tag {tag!r}")
    out.pairs([("limit", str(limit.limit)), ("active", str(limit.active)), ("created", out.local_time(limit.created))])
    if limit.holders:
        click.echo()
        out.table(
            ["TASK RUN", "ID", "HOST", "PID", "SINCE"],
            [[h.task_run_name, h.task_run_id, h.host, str(h.pid), out.local_time(h.acquired)] for h in limit.holders],
            flexible=[0],
            indent="  ",
        )


@concurrency_limit.command("delete")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True, help='Print {"deleted": TAG}.')
def delete(tag: str, as_json: bool) -> None:
    """Remove TAG's limit; its waiting task runs then start."""
    if not open_client().delete_concurrency_limit(tag):
        raise _no_limit(tag)
    if as_json:
        out.echo_json({"deleted": tag})
    else:
        click.echo(f"Removed the concurrency limit of tag {tag!r}.")
