"""``DaskTaskRunner``: submitted task functions run on a Dask cluster; their orchestration stays in the flow's process."""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import importlib
import importlib.util
import logging
import weakref
from typing import TYPE_CHECKING, Any, Optional, Union

from headwater.exceptions import ConfigurationError
from headwater.remote import replay_lines
from headwater.task_runners import EventLoopTaskRunner
from headwater.timeouts import RunTimeout

from ._options import current_options
from ._payload import LOG_TOPIC, call_async, call_sync

if TYPE_CHECKING:
    import asyncio

    from headwater.logs import RunLogger
    from headwater.task_engine import TaskCall

__all__ = ["DaskTaskRunner"]

logger = logging.getLogger("headwater.dask")

INSTALL_HINT = "pip install headwater-dask (it installs dask[distributed])"

# A result at least this big stays on the workers as well: a task that takes it gets it from
# there, worker to worker, instead of from the flow's process. Smaller ones are not worth the
# scheduler's bookkeeping.
KEEP_ON_WORKERS_BYTES = 1 << 20


def _require_distributed() -> None:
    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImportError(f"DaskTaskRunner needs dask.distributed, which is not installed: {INSTALL_HINT}.")


def _check_kwargs(value: Any, option: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ConfigurationError(f"DaskTaskRunner({option}={value!r}): {option} must be a dict of keyword arguments.")
    return dict(value)


class DaskTaskRunner(EventLoopTaskRunner):
    """Runs submitted tasks on Dask.

    :param address: the address of a running Dask scheduler (``"tcp://host:8786"``). Without it
        (and without ``cluster_class``), each flow run starts a temporary ``distributed.LocalCluster``
        and closes it when the flow run ends.
    :param cluster_class: a Dask cluster manager class, or its dotted path
        (``"dask_jobqueue.SLURMCluster"``), started for the flow run and closed after it.
        Default ``distributed.LocalCluster``.
    :param cluster_kwargs: keyword arguments for ``cluster_class`` (``n_workers``, ``processes``, ...).
    :param adapt_kwargs: if given, ``cluster.adapt(**adapt_kwargs)`` scales the cluster with the load
        (``minimum``, ``maximum``).
    :param client_kwargs: extra keyword arguments for ``distributed.Client``.
    :param connect_timeout: seconds to wait for the scheduler at ``address`` before giving up (default 30).

    Only the task's function, its arguments and a small run context travel to the workers; states,
    retries, caching and records stay in the flow's process. Lines that task code logs on a worker
    (``get_run_logger()``, ``log_prints``) come back as Dask events and are logged by the run's logger
    here. The workers need headwater-dask and whatever the tasks import.
    """

    name = "dask"

    def __init__(
        self,
        address: Optional[str] = None,
        cluster_class: Union[str, type, None] = None,
        cluster_kwargs: Optional[dict[str, Any]] = None,
        adapt_kwargs: Optional[dict[str, Any]] = None,
        client_kwargs: Optional[dict[str, Any]] = None,
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__()
        _require_distributed()
        if address is not None and not (isinstance(address, str) and address):
            raise ConfigurationError(f"DaskTaskRunner(address={address!r}): address must be a scheduler address such as 'tcp://host:8786'.")
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs):
            raise ConfigurationError(
                "DaskTaskRunner: address= connects to a running scheduler; cluster_class=, cluster_kwargs= and "
                "adapt_kwargs= start a cluster. Pass one or the other."
            )
        if cluster_class is not None and not isinstance(cluster_class, (str, type)):
            raise ConfigurationError(
                f"DaskTaskRunner(cluster_class={cluster_class!r}): pass a cluster class or its dotted path, "
                "for example 'dask_jobqueue.SLURMCluster'."
            )
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, (int, float)) or connect_timeout <= 0:
            raise ConfigurationError(f"DaskTaskRunner(connect_timeout={connect_timeout!r}): connect_timeout must be a positive number of seconds.")
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = _check_kwargs(cluster_kwargs, "cluster_kwargs")
        self.adapt_kwargs = _check_kwargs(adapt_kwargs, "adapt_kwargs")
        self.client_kwargs = _check_kwargs(client_kwargs, "client_kwargs")
        for reserved in ("address", "asynchronous", "loop"):
            if reserved in self.client_kwargs:
                raise ConfigurationError(f"DaskTaskRunner(client_kwargs=...): {reserved!r} is set by the runner; remove it.")
        self.connect_timeout = float(connect_timeout)
        self._reset()

    def _reset(self) -> None:
        # What one flow run's runner holds; a duplicate starts empty.
        self._client: Any = None
        self._cluster: Any = None
        self._sizeof: Any = None
        self._native: dict[str, Any] = {}
        # The loggers of the runs sent to the workers, by run id, for the lines that come back. Weak:
        # each lives as long as its run's future (the whole flow run), and no longer.
        self._loggers: weakref.WeakValueDictionary[str, RunLogger] = weakref.WeakValueDictionary()

    def duplicate(self) -> DaskTaskRunner:
        twin = super().duplicate()
        assert isinstance(twin, DaskTaskRunner)
        twin._reset()
        return twin

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of this flow run (asynchronous, on the runner's loop); ``None`` before the first submission."""
        return self._client

    # -- start and shut down -------------------------------------------------------------------
    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        import asyncio  # not at the top: loading the plugin must not import asyncio (30-40 ms of a cold start)

        asyncio.run_coroutine_threadsafe(self._connect(), loop).result()

    async def _connect(self) -> None:
        import asyncio

        try:
            from dask.sizeof import sizeof
            from distributed import Client
        except ImportError as exc:
            raise ImportError(f"DaskTaskRunner could not import dask.distributed ({exc}): {INSTALL_HINT}.") from exc
        self._sizeof = sizeof
        client_kwargs = {"set_as_default": False, **self.client_kwargs}
        if self.address is not None:
            try:
                self._client = await Client(self.address, asynchronous=True, timeout=self.connect_timeout, **client_kwargs)
            except (OSError, asyncio.TimeoutError) as exc:
                raise ConnectionError(
                    f"DaskTaskRunner could not connect to the Dask scheduler at {self.address!r} within "
                    f"{self.connect_timeout:g} seconds: {exc}. Check that the scheduler is running and reachable "
                    "from here, or give it longer with DaskTaskRunner(connect_timeout=...)."
                ) from exc
        else:
            cluster_class = self._resolve_cluster_class()
            self._cluster = await cluster_class(asynchronous=True, **self.cluster_kwargs)
            try:
                if self.adapt_kwargs:
                    self._cluster.adapt(**self.adapt_kwargs)
                self._client = await Client(self._cluster, asynchronous=True, **client_kwargs)
            except BaseException:
                await self._cluster.close()
                self._cluster = None
                raise
        # Sent ahead of the first task on the client's stream: the subscription is in place before any line.
        self._client.subscribe_topic(LOG_TOPIC, self._lines_arrived)

    def _lines_arrived(self, event: tuple[float, Any]) -> None:
        """A worker's event with the lines of one run (on the runner's loop, before the run's completion arrives)."""
        _, message = event
        logger = self._loggers.get(message.get("run")) if isinstance(message, dict) else None
        if logger is not None:  # else the run of another client of the scheduler, or of a flow run that ended
            replay_lines(logger, message["lines"])

    def _resolve_cluster_class(self) -> type:
        spec = self.cluster_class
        if spec is None:
            from distributed import LocalCluster

            return LocalCluster
        if isinstance(spec, type):
            return spec
        module_name, _, attribute = spec.replace(":", ".").rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigurationError(
                f"DaskTaskRunner(cluster_class={spec!r}) names no class that can be imported ({type(exc).__name__}: {exc}). "
                "Install the package that provides it, or check the dotted path."
            ) from exc

    def shutdown(self) -> None:
        loop = self._loop
        if loop is not None and (self._client is not None or self._cluster is not None):
            import asyncio

            try:
                asyncio.run_coroutine_threadsafe(self._close(), loop).result()
            except Exception:
                logger.warning("DaskTaskRunner: closing the Dask client or cluster failed.", exc_info=True)
        super().shutdown()
        self._reset()

    async def _close(self) -> None:
        self._native.clear()
        # Only what this runner started: its client always, the cluster only if it made one.
        if self._client is not None:
            try:
                self._client.unsubscribe_topic(LOG_TOPIC)
            except Exception:
                pass  # the client lost its scheduler; closing it is all there is left to do
            await self._client.close()
        if self._cluster is not None:
            await self._cluster.close()

    # -- running tasks -------------------------------------------------------------------------
    async def execute(self, call: TaskCall) -> Any:
        client = self._client
        run = call.context.task_run
        kwargs = call.with_native(self._native)
        options = current_options()
        self._loggers[run.id] = call.context.logger
        try:
            future = client.submit(
                call_async if call.is_async else call_sync,
                call.fn,
                kwargs,
                call.remote_context(),
                key=f"{call.task.name}-{run.id}-{run.run_count}",  # cheap, unique, and readable on the dashboard
                pure=False,
                **options,
            )
        except Exception as exc:
            error = call.pickling_error("Dask")
            if error is None:
                raise
            raise error from exc
        if call.timeout_seconds is None:
            value = await future
        else:
            # Not wait_for: a TimeoutError the task itself raised must stay the task's failure.
            import asyncio

            waiter = asyncio.ensure_future(_result(future))
            done, _ = await asyncio.wait({waiter}, timeout=call.timeout_seconds)
            if not done:
                waiter.cancel()
                await client.cancel([future])  # released; a running function finishes on its worker
                raise RunTimeout(call.timeout_seconds)
            value = waiter.result()
        if self._sizeof(value) >= KEEP_ON_WORKERS_BYTES:
            self._native[run.id] = future
        return value

    def __repr__(self) -> str:
        shown = [
            f"{name}={value!r}"
            for name, value in (
                ("address", self.address),
                ("cluster_class", self.cluster_class),
                ("cluster_kwargs", self.cluster_kwargs),
                ("adapt_kwargs", self.adapt_kwargs),
                ("client_kwargs", self.client_kwargs),
            )
            if value
        ]
        return f"DaskTaskRunner({', '.join(shown)})"


async def _result(future: Any) -> Any:
    return await future
