"""``RayTaskRunner``: submitted task functions run as Ray tasks; their orchestration stays in the flow's process."""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import importlib.util
import sys
from typing import TYPE_CHECKING, Any, Optional

from headwater.exceptions import ConfigurationError
from headwater.remote import replay_lines
from headwater.task_runners import EventLoopTaskRunner
from headwater.timeouts import RunTimeout

from . import _session
from ._options import current_options
from ._payload import original_error, remote_function, take_lines

if TYPE_CHECKING:
    import asyncio

    from headwater.task_engine import TaskCall

__all__ = ["RayTaskRunner"]

INSTALL_HINT = "pip install headwater-ray (it installs ray)"

# A result at least this big stays in Ray's object store as well: a task that takes it gets it
# from there instead of from the flow's process. (Ray keeps objects over 100 KiB in shared memory.)
KEEP_IN_OBJECT_STORE_BYTES = 1 << 20


def _require_ray() -> None:
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImportError(f"RayTaskRunner needs Ray, which is not installed: {INSTALL_HINT}.")


def _nbytes(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, memoryview):
        return value.nbytes
    size = getattr(value, "nbytes", None)  # numpy arrays, pyarrow tables
    return size if isinstance(size, int) else sys.getsizeof(value)


class RayTaskRunner(EventLoopTaskRunner):
    """Runs submitted tasks as Ray tasks.

    :param address: a Ray cluster to connect to: ``"ray://head:10001"`` (Ray Client), ``"host:6379"``
        or ``"auto"``. Without it, a local Ray is started for the flow run (no dashboard) and shut down
        after it. If Ray is already initialized in this process, the runner uses it as it is and
        leaves it running.
    :param init_kwargs: extra keyword arguments for ``ray.init`` (``num_cpus``, ``runtime_env``, ...).
    :param connect_timeout: seconds to wait for a ``host:port`` address to answer before giving up (default 30).

    Per-task resources: submit inside ``with headwater_ray.remote_options(num_cpus=2, num_gpus=1): ...``.
    Only the task's function, its arguments and a small run context travel to the workers; states,
    retries, caching and records stay in the flow's process. Lines that task code logs on a worker
    (``get_run_logger()``, ``log_prints``) come back as a second return of the Ray task and are
    logged by the run's logger here.
    """

    name = "ray"

    def __init__(
        self,
        address: Optional[str] = None,
        init_kwargs: Optional[dict[str, Any]] = None,
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__()
        _require_ray()
        if address is not None and not (isinstance(address, str) and address):
            raise ConfigurationError(f"RayTaskRunner(address={address!r}): address must be a string such as 'ray://head:10001' or 'auto'.")
        if init_kwargs is not None and (not isinstance(init_kwargs, dict) or not all(isinstance(k, str) for k in init_kwargs)):
            raise ConfigurationError(f"RayTaskRunner(init_kwargs={init_kwargs!r}): init_kwargs must be a dict of keyword arguments for ray.init.")
        if init_kwargs and "address" in init_kwargs:
            raise ConfigurationError("RayTaskRunner(init_kwargs=...): pass the address as RayTaskRunner(address=...).")
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, (int, float)) or connect_timeout <= 0:
            raise ConfigurationError(f"RayTaskRunner(connect_timeout={connect_timeout!r}): connect_timeout must be a positive number of seconds.")
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self.connect_timeout = float(connect_timeout)
        self._reset()

    def _reset(self) -> None:
        # What one flow run's runner holds; a duplicate starts empty.
        self._acquired = False
        self._ray: Any = None
        self._task_error: type[BaseException] = Exception
        self._native: dict[str, Any] = {}

    def duplicate(self) -> RayTaskRunner:
        twin = super().duplicate()
        assert isinstance(twin, RayTaskRunner)
        twin._reset()
        return twin

    # -- start and shut down -------------------------------------------------------------------
    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        self._connect()

    def _connect(self) -> None:
        try:
            import ray
            import ray.exceptions
        except ImportError as exc:
            raise ImportError(f"RayTaskRunner could not import Ray ({exc}): {INSTALL_HINT}.") from exc
        if self.address is not None:
            _session.check_reachable(self.address, self.connect_timeout)
        _session.acquire(self.address, self.init_kwargs)
        self._acquired = True
        self._ray = ray
        self._task_error = ray.exceptions.RayTaskError

    def shutdown(self) -> None:
        super().shutdown()
        self._native.clear()  # drop the object refs before Ray may go
        if self._acquired:
            _session.release()
        self._reset()

    # -- running tasks -------------------------------------------------------------------------
    async def execute(self, call: TaskCall) -> Any:
        run = call.context.task_run
        remote = remote_function(call.fn, call.is_async)
        kwargs = call.with_native(self._native)
        options = current_options()
        if options:
            remote = remote.options(**options)
        try:
            lines_ref, ref = remote.remote(call.remote_context(), **kwargs)
        except Exception as exc:
            error = call.pickling_error("Ray")
            if error is None:
                raise
            raise error from exc
        try:
            if call.timeout_seconds is None:
                value = await ref
            else:
                import asyncio  # not at the top: loading the plugin must not import asyncio

                waiter = asyncio.ensure_future(_result(ref))
                done, _ = await asyncio.wait({waiter}, timeout=call.timeout_seconds)
                if not done:
                    waiter.cancel()
                    self._ray.cancel(ref, force=True)  # kills the worker process running it
                    raise RunTimeout(call.timeout_seconds)
                value = waiter.result()
        except self._task_error as exc:
            error = original_error(exc)
            lines = take_lines(error)
            if lines:
                replay_lines(call.context.logger, lines)
            raise error from None
        # Small, and stored in this process already: Ray stores a task's returns in order, from the
        # reply that brought the value. A plain get, not a second await: no hop to Ray's callback thread.
        lines = self._ray.get(lines_ref)
        if lines:
            replay_lines(call.context.logger, lines)
        if _nbytes(value) >= KEEP_IN_OBJECT_STORE_BYTES:
            self._native[run.id] = ref
        return value

    def __repr__(self) -> str:
        shown = [f"{name}={value!r}" for name, value in (("address", self.address), ("init_kwargs", self.init_kwargs)) if value]
        return f"RayTaskRunner({', '.join(shown)})"


async def _result(ref: Any) -> Any:
    return await ref
