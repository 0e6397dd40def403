"""A task runner: submitted tasks run concurrently, and each one's wall time goes to its run's log.

headwater offers two bases for a runner (see :mod:`headwater.task_runners`):

* :class:`~headwater.task_runners.TaskRunner`: implement ``submit(run)`` and
  return a future of the run's final state;
* :class:`~headwater.task_runners.EventLoopTaskRunner`: implement only
  ``async execute(call)``, which calls the task's function and returns its
  value. headwater orchestrates each submitted run as a coroutine on the
  runner's own event loop (states, retries, cache, waiting for upstream runs)
  and awaits ``execute`` when the function must run.

This one takes the second road: ``execute`` is the one place where the
function runs, so it is the place to time it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, Optional

from headwater.exceptions import ConfigurationError
from headwater.task_runners import EventLoopTaskRunner

__all__ = ["TimedTaskRunner"]


class TimedTaskRunner(EventLoopTaskRunner):
    """Runs sync tasks on a thread pool and async tasks on the runner's loop, and logs how long each call took.

    Each call adds a line to the task run's log, such as
    ``Task run 'load-0' - Function ran for 0.412s (attempt 1)``, so slow tasks
    stand out in a flow's output. Select it with ``@flow(task_runner="timed")``,
    or pass ``TimedTaskRunner(max_workers=8)``.

    :param max_workers: how many sync task functions may run at once (default 8).
    """

    name = "timed"

    def __init__(self, max_workers: int = 8) -> None:
        super().__init__()
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigurationError(f"TimedTaskRunner(max_workers={max_workers!r}): give a whole number of 1 or more.")
        self.max_workers = max_workers
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None

    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        # Called once, with the first submission: a flow that never submits starts no threads.
        self._pool = concurrent.futures.ThreadPoolExecutor(self.max_workers, thread_name_prefix="headwater-timed")

    def shutdown(self) -> None:
        super().shutdown()  # stops the loop: every submitted run has finished by now
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    async def execute(self, call: Any) -> Any:
        started = time.perf_counter()
        try:
            if call.is_async:
                return await call.run_async()
            return await asyncio.get_running_loop().run_in_executor(self._pool, call.run_sync)
        finally:
            elapsed = time.perf_counter() - started
            call.context.logger.info("Function ran for %.3fs (attempt %d)", elapsed, call.context.task_run.run_count)

    def __repr__(self) -> str:
        return f"TimedTaskRunner(max_workers={self.max_workers})"
