"""Formatting for the CLI: tables, times, durations, state colours, JSON."""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import sys
from typing import Any, Iterable, Optional, Sequence

import click

# Colours by state type; click.echo drops them when the output is not a terminal.
_STATE_COLOURS = {
    "COMPLETED": "green",
    "FAILED": "red",
    "CRASHED": "red",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "PENDING": "yellow",
    "SCHEDULED": "yellow",
    "PAUSED": "yellow",
}


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def state_style(text: str, state_type: Any) -> str:
    colour = _STATE_COLOURS.get(str(state_type) if state_type is not None else "")
    return click.style(text, fg=colour) if colour else text


def local_time(moment: Optional[_dt.datetime], precise: bool = False) -> str:
    """A timestamp in the local zone: ``2024-05-01 13:48:40`` (``.570`` more when ``precise``)."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    moment = moment.astimezone()
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text + f".{moment.microsecond // 1000:03d}" if precise else text


def duration(delta: Optional[_dt.timedelta]) -> str:
    """A short human duration: ``850µs``, ``12.3ms``, ``4.56s``, ``2m 05s``, ``1h 02m``, ``3d 04h``."""
    if delta is None:
        return "-"
    seconds = delta.total_seconds()
    if seconds < 0:
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}" + _encodable("µs", "us")
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:.1f}ms" if ms < 100 else f"{ms:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def _encodable(text: str, fallback: str) -> str:
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return fallback
    return text


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + _encodable("…", "~")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    styles: Optional[Sequence[Optional[Any]]] = None,
    flexible: Sequence[int] = (),
    indent: str = "",
) -> None:
    """Print aligned columns. ``styles[i](text, row_index)`` colours a cell after padding.

    On a terminal, the ``flexible`` columns are shortened (with an ellipsis) so that
    the table fits its width; piped output is never cut.
    """
    rows = [list(row) for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if flexible and sys.stdout.isatty():
        available = shutil.get_terminal_size().columns - len(indent)
        excess = sum(widths) + 2 * (len(widths) - 1) - available
        for i in sorted(flexible, key=lambda i: -widths[i]):
            if excess <= 0:
                break
            cut = min(excess, max(widths[i] - max(len(headers[i]), 8), 0))
            widths[i] -= cut
            excess -= cut
    # Padding goes outside the colour codes, so that trailing blanks can be stripped.
    click.echo(indent + "  ".join(click.style(h, bold=True) + " " * (w - len(h)) for h, w in zip(headers, widths)).rstrip())
    for n, row in enumerate(rows):
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths)):
            text = _fit(cell, width)
            style = styles[i] if styles and i < len(styles) else None
            cells.append((style(text, n) if style and text else text) + " " * (width - len(text)))
        click.echo(indent + "  ".join(cells).rstrip())


def heading(text: str) -> None:
    click.echo(click.style(text, bold=True))


def pairs(items: Sequence[tuple[str, str]], indent: str = "  ") -> None:
    """``key  value`` lines with the values aligned."""
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"{indent}{click.style(key.ljust(width), dim=True)}  {value}")


def size(n: Optional[int]) -> str:
    """A payload size: ``512 B``, ``4.2 KiB``, ``1.3 MiB`` (``-`` when unknown)."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}"
    return f"{n} B"
