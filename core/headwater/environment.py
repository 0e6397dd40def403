"""What a run needs from its surroundings: settings, logging, plugins and the store."""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plugins import Plugins
    from .stores import Store

__all__ = ["standalone_environment"]

_atexit_registered = False


def standalone_environment() -> tuple[Store, Plugins]:
    """The store and plugins for a run that has no parent run, with logging set up."""
    global _atexit_registered
    from .logs import setup_logging
    from .plugins import get_plugins
    from .settings import get_settings
    from .stores import close_stores, get_store

    settings = get_settings()
    setup_logging(settings.logging_level, settings.logging_extra_loggers)
    plugins = get_plugins()
    store = get_store(settings)
    if not _atexit_registered:
        # Buffered records reach the database before the interpreter exits.
        atexit.register(close_stores)
        _atexit_registered = True
    return store, plugins
