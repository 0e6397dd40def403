"""The one Ray connection of a process, shared by every RayTaskRunner in it.

A runner that finds Ray already initialized uses it and leaves it running. If
the runners start Ray themselves, it is shut down when the last flow run using
it ends: two flow runs at once share one local Ray rather than one of them
shutting it down under the other.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Optional

__all__ = ["acquire", "release", "check_reachable"]

_lock = threading.Lock()
_users = 0
_owned = False  # whether this module started the Ray it hands out


def check_reachable(address: str, timeout: float) -> None:
    """Fail fast, naming the address, when nothing listens at a ``ray://host:port`` or ``host:port`` address."""
    if address == "auto" or address == "local":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # not host:port; Ray will say what it makes of it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(
            f"RayTaskRunner could not reach the Ray cluster at {address!r} within {timeout:g} seconds: {exc}. "
            "Check that the cluster is running and reachable from here (a Ray Client address looks like "
            "'ray://head-node:10001'), or give it longer with RayTaskRunner(connect_timeout=...)."
        ) from exc


def acquire(address: Optional[str], init_kwargs: dict[str, Any]) -> None:
    """Make sure Ray is initialized in this process, and count one more user."""
    global _users, _owned
    import ray

    with _lock:
        if not ray.is_initialized():
            options = dict(init_kwargs)
            if address is not None:
                options["address"] = address
            else:
                options.setdefault("include_dashboard", False)
            try:
                ray.init(**options)
            except ConnectionError as exc:
                raise ConnectionError(f"RayTaskRunner could not connect to Ray at {address!r}: {exc}") from exc
            _owned = True
        _users += 1


def release() -> None:
    """Count one user less; shut Ray down if the runners started it and nobody uses it now."""
    global _users, _owned
    import ray

    with _lock:
        _users -= 1
        if _users == 0 and _owned:
            _owned = False
            ray.shutdown()
