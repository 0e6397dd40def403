"""``headwater cache``: manage cache entries."""

from __future__ import annotations

from typing import Optional

import click

from . import _output as out
from ._store import open_client


@click.group()
def cache() -> None:
    """Manage the cache of task results."""


@cache.command("clear")
@click.option("--key", metavar="K", help="Remove the entry under cache key K.")
@click.option("--expired", is_flag=True, help="Remove the entries that have expired.")
@click.option("--all", "all_", is_flag=True, help="Remove every entry.")
@click.option("--json", "as_json", is_flag=True, help='Print {"removed": N}.')
def cache_clear(key: Optional[str], expired: bool, all_: bool, as_json: bool) -> None:
    """Remove cache entries: one key, the expired ones, or all. Give exactly one of the three.

    Task runs whose entry is gone run again next time instead of reusing the result.
    """
    chosen = [name for name, given in (("--key", key is not None), ("--expired", expired), ("--all", all_)) if given]
    if len(chosen) != 1:
        detail = "got " + " and ".join(chosen) if chosen else "none was given"
        raise click.UsageError(f"give exactly one of --key K, --expired or --all ({detail}).")
    store = open_client().store  # the client only reads; clearing goes to the store itself
    removed = store.clear_cache(key=key, expired_only=expired)
    if as_json:
        out.echo_json({"removed": removed})
        return
    what = "cache entry" if removed == 1 else "cache entries"
    if key is not None and removed == 0:
        click.echo(f"No cache entry under key {key!r}; nothing removed.")
    else:
        click.echo(f"Removed {removed} {'expired ' if expired else ''}{what}.")


@cache.command("ls")
@click.option("--limit", "-n", metavar="N", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of cache entries.")
def cache_ls(limit: int, as_json: bool) -> None:
    """List cache entries, newest first: key, task, when created, when they expire, payload size."""
    import datetime as _dt

    entries = open_client().read_cache_entries(limit=limit)
    now = _dt.datetime.now(_dt.timezone.utc)
    if as_json:
        out.echo_json([{**e.model_dump(mode="json"), "expired": e.is_expired(now)} for e in entries])
        return
    if not entries:
        click.echo("No cache entries.")
        return
    rows = [
        [
            e.key, e.task_name or "-", out.local_time(e.created),
            out.local_time(e.expiration) if e.expiration else "never",
            "yes" if e.is_expired(now) else "no",
            out.size(e.payload_size),
        ]
        for e in entries
    ]

    def style_expired(text: str, n: int) -> str:
        return click.style(text, fg="yellow") if entries[n].is_expired(now) else text

    out.table(["KEY", "TASK", "CREATED", "EXPIRES", "EXPIRED", "SIZE"], rows, styles=[None, None, None, None, style_expired], flexible=(0, 1))
