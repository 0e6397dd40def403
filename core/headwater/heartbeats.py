"""Heartbeats: how a run's process on another host is told alive from gone.

A process on the same host as the store's reader is checked by its pid (see
:mod:`headwater.processes`). One on another host cannot be, so each process that has
unfinished runs (a top-level flow run in progress, a server waiting for due times)
records a heartbeat in the store every ``HEADWATER_HEARTBEAT_INTERVAL`` seconds, from a
thread of its own: nothing on a run's path waits for it. A store's ``mark_crashed_runs``
records Crashed the unfinished runs of another host whose process's newest heartbeat is
older than ``HEADWATER_HEARTBEAT_TIMEOUT``.

The thread is started by the first run of the process and then kept: between runs it
waits, writing nothing, and a run costs a counter and a lock, not a thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .stores import Store

__all__ = ["hold", "release"]

logger = logging.getLogger("headwater.heartbeats")


class _Heart:
    def __init__(self) -> None:
        self.lock = threading.Condition(threading.Lock())
        #: Store -> how many of this process's runs (or servers) on it are unfinished.
        self.holders: dict[Store, int] = {}
        self.thread: Optional[threading.Thread] = None
        self.failed: set[Store] = set()  # stores whose heartbeat failed, said once each

    def hold(self, store: Store) -> None:
        with self.lock:
            self.holders[store] = self.holders.get(store, 0) + 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._beat, name="headwater-heartbeat", daemon=True)
                self.thread.start()
            else:
                self.lock.notify()

    def release(self, store: Store) -> None:
        with self.lock:
            left = self.holders.get(store, 0) - 1
            if left > 0:
                self.holders[store] = left
            else:
                self.holders.pop(store, None)

    def _beat(self) -> None:
        from .processes import current_process
        from .settings import last_settings

        while True:
            with self.lock:
                while not self.holders:
                    self.lock.wait()
                stores = list(self.holders)
            process, now = current_process(), time.time()
            for store in stores:
                try:
                    store.record_heartbeat(process, now)
                except Exception as exc:  # a store that is unreachable for a while: the runs go on
                    if store not in self.failed:
                        self.failed.add(store)
                        logger.warning("Could not record this process's heartbeat in the %r store: %s", store.name, exc)
            time.sleep(last_settings().heartbeat_interval)


_heart = _Heart()


def hold(store: Store) -> None:
    """A run of this process on ``store`` began: keep the heartbeat going until :func:`release`."""
    _heart.hold(store)


def release(store: Store) -> None:
    """A run that :func:`hold` was called for ended."""
    _heart.release(store)


def _after_fork() -> None:
    # The thread did not fork with the process; the runs held are the parent's.
    global _heart
    _heart = _Heart()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
