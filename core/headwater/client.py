"""A synchronous read API over the store: what ran, in what states, with what results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .concurrency import ConcurrencyLimit
    from .records import ArtifactRecord, CacheEntryRecord, FlowRunRecord, LogLineRecord, StateRecord, TaskRunRecord
    from .stores import FlowRunCount, FlowRunQuery, Store

__all__ = ["Client", "get_client"]


class Client:
    """Reads run records. Records written by this process so far are flushed before each read."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read_flow_runs(self, flow_name: Optional[str] = None, limit: int = 100) -> list[FlowRunRecord]:
        """Flow runs, newest first, optionally of one flow."""
        return self.store.read_flow_runs(flow_name=flow_name, limit=limit)

    def query_flow_runs(self, query: FlowRunQuery, limit: int = 50, offset: int = 0) -> list[FlowRunRecord]:
        """The flow runs ``query`` matches (flow, state types, tags, time range, parent run), newest first, a page at a time."""
        return self.store.query_flow_runs(query, limit=limit, offset=offset)

    def count_flow_runs(self, query: FlowRunQuery, bucket_seconds: Optional[float] = None) -> list[FlowRunCount]:
        """How many flow runs ``query`` matches, by state type and, given ``bucket_seconds``, by time bucket."""
        return self.store.count_flow_runs(query, bucket_seconds=bucket_seconds)

    def read_flow_run(self, run_id: str) -> Optional[FlowRunRecord]:
        """One flow run by id, unique id prefix or name."""
        return self.store.read_flow_run(run_id)

    def read_task_runs(self, flow_run_id: Optional[str] = None, limit: int = 10_000) -> list[TaskRunRecord]:
        """The task runs of a flow run (or every task run), oldest first."""
        return self.store.read_task_runs(flow_run_id=flow_run_id, limit=limit)

    def read_state_history(self, run_id: str) -> list[StateRecord]:
        """Every state a flow run or task run went through, oldest first."""
        return self.store.read_state_history(run_id)

    def read_logs(self, flow_run_id: str, min_level: int = 0, after_id: int = 0, limit: int = 10_000) -> list[LogLineRecord]:
        """The stored log lines of a flow run and of its task runs and subflows, oldest first.

        ``min_level`` is a :mod:`logging` level; pass the ``id`` of the last line seen as
        ``after_id`` to read only newer ones.
        """
        return self.store.read_logs(flow_run_id, min_level=min_level, after_id=after_id, limit=limit)

    def read_cache_entries(self, limit: int = 1_000) -> list[CacheEntryRecord]:
        """Cache entries, newest first, with their task's name and payload size."""
        return self.store.read_cache_entries(limit=limit)

    def read_artifacts(
        self, key: Optional[str] = None, flow_run_id: Optional[str] = None, latest_only: bool = False, limit: int = 100
    ) -> list[ArtifactRecord]:
        """Artifacts, newest first: every one, one key's versions, or those made in one flow run;
        ``latest_only`` gives the newest version of each key."""
        return self.store.read_artifacts(key=key, flow_run_id=flow_run_id, latest_only=latest_only, limit=limit)

    # -- tag concurrency limits ------------------------------------------------------------
    def create_concurrency_limit(self, tag: str, limit: int) -> ConcurrencyLimit:
        """Allow at most ``limit`` task runs tagged ``tag`` to run at once, in every process using this store.

        Changes the limit if ``tag`` has one already. ``0`` stops the tag's task runs from running.
        """
        from .concurrency import check_limit, check_tag

        self.store.set_concurrency_limit(check_tag(tag), check_limit(tag, limit))
        created = self.read_concurrency_limit(tag)
        assert created is not None
        return created

    def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        """Every tag's limit, with the task runs holding its slots now."""
        return self.store.read_concurrency_limits()

    def read_concurrency_limit(self, tag: str) -> Optional[ConcurrencyLimit]:
        """One tag's limit and the task runs holding its slots, or ``None`` if the tag has no limit."""
        found = self.store.read_concurrency_limits(tag)
        return found[0] if found else None

    def delete_concurrency_limit(self, tag: str) -> bool:
        """Remove a tag's limit (its waiting task runs then start); return whether it had one."""
        return self.store.delete_concurrency_limit(tag)


def get_client() -> Client:
    """A client over the store the current settings point at."""
    from .environment import standalone_environment

    store, _ = standalone_environment()
    return Client(store)
