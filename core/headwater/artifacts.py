"""Artifacts: markdown, tables and links a run publishes for people to read.

An artifact is kept in the store with the flow run and task run it was made in (or none, made
outside any run) and listed by ``headwater artifacts ls`` and ``headwater runs inspect``. Give it a
``key`` to make it one version of something you publish again and again (a daily report): the
listing shows each key's newest version, ``headwater artifacts inspect KEY`` all of them.

The names and arguments are Prefect 2's (``prefect.artifacts``).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import uuid
from typing import Any, Optional, Union

from .exceptions import ConfigurationError

__all__ = ["Artifact", "create_markdown_artifact", "create_table_artifact", "create_link_artifact", "check_artifact_key"]

_KEY = re.compile(r"^[a-z0-9-]+$")

Table = Union[dict[str, list[Any]], list[dict[str, Any]], list[list[Any]]]


class Artifact:
    """Reading artifacts back in Python, as Prefect's ``Artifact.get(key)`` does."""

    @classmethod
    def get(cls, key: str) -> Optional[Any]:
        """The newest artifact under ``key`` (an :class:`~headwater.records.ArtifactRecord`), or ``None``."""
        from .stores import get_store

        check_artifact_key(key)
        found = get_store().read_artifacts(key=key, limit=1)
        return found[0] if found else None


def create_markdown_artifact(markdown: str, key: Optional[str] = None, description: Optional[str] = None) -> uuid.UUID:
    """Publish ``markdown`` (a report, a summary); return the artifact's id."""
    if not isinstance(markdown, str):
        raise ConfigurationError(f"create_markdown_artifact: markdown must be a string, not {type(markdown).__name__}.")
    return _create("markdown", markdown, key, description)


def create_table_artifact(table: Table, key: Optional[str] = None, description: Optional[str] = None) -> uuid.UUID:
    """Publish a table: a list of rows (dicts or lists) or a dict of columns (lists of equal length).

    Values that are not JSON data are kept as their ``repr``; NaN becomes empty (``None``).
    """
    return _create("table", _checked_table(table), key, description)


def create_link_artifact(
    link: str, link_text: Optional[str] = None, key: Optional[str] = None, description: Optional[str] = None
) -> uuid.UUID:
    """Publish a link (to a dashboard, a file in a bucket); kept as markdown, ``[link_text](link)``."""
    if not isinstance(link, str) or not link:
        raise ConfigurationError(f"create_link_artifact: link={link!r} must be a non-empty string (a URL).")
    return _create("link", f"[{link_text}]({link})" if link_text else link, key, description)


def check_artifact_key(key: Any) -> Optional[str]:
    """``key``, if it is one an artifact can have (lowercase letters, digits and dashes); else an error naming it."""
    if key is None:
        return None
    if not isinstance(key, str) or not _KEY.match(key):
        raise ConfigurationError(
            f"Artifact key {key!r} may hold only lowercase letters, digits and dashes, such as 'daily-report'."
        )
    return key


def _create(kind: str, data: Any, key: Optional[str], description: Optional[str]) -> uuid.UUID:
    from .context import flow_run_context, task_run_context
    from .records import ArtifactRecord
    from .stores import get_store

    check_artifact_key(key)
    task_ctx = task_run_context.get()
    flow_ctx = flow_run_context.get()
    if task_ctx is not None:
        task_run_id = task_ctx.task_run.id
        flow_run_id = task_ctx.flow_run.id if task_ctx.flow_run is not None else None
        store = get_store()
    else:
        task_run_id = None
        flow_run_id = flow_ctx.flow_run.id if flow_ctx is not None else None
        store = flow_ctx.store if flow_ctx is not None else get_store()
    artifact_id = uuid.uuid4()
    store.write_artifact(
        ArtifactRecord(
            id=str(artifact_id), key=key, type=kind, description=description, data=data,
            flow_run_id=flow_run_id, task_run_id=task_run_id, created=_dt.datetime.now(_dt.timezone.utc),
        )
    )
    return artifact_id


def _checked_table(table: Any) -> Any:
    """The table as plain JSON data, or an error saying which shapes a table may have."""
    if isinstance(table, dict) and all(isinstance(column, (list, tuple)) for column in table.values()):
        lengths = {len(column) for column in table.values()}
        if len(lengths) > 1:
            raise ConfigurationError(
                f"create_table_artifact: the columns of the table have different lengths ({sorted(lengths)}); "
                "give every column the same number of values."
            )
        return {str(name): [_cell(value) for value in column] for name, column in table.items()}
    if isinstance(table, (list, tuple)):
        if all(isinstance(row, dict) for row in table):
            return [{str(name): _cell(value) for name, value in row.items()} for row in table]
        if all(isinstance(row, (list, tuple)) for row in table):
            return [[_cell(value) for value in row] for row in table]
    raise ConfigurationError(
        f"create_table_artifact: a table is a list of dicts (rows), a list of lists (rows) or a dict of "
        f"lists (columns); got {type(table).__name__}."
    )


def _cell(value: Any) -> Any:
    from .results import jsonable

    if isinstance(value, float) and math.isnan(value):
        return None
    return jsonable(value)
