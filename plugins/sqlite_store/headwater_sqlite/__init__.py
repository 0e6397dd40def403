"""headwater's default store: run records and small result payloads in SQLite, large payloads in files.

A plugin like any other: found through the ``headwater`` entry-point group and
registered with the ``register_result_stores`` hook.
"""

from headwater.hookspecs import hookimpl


@hookimpl
def register_result_stores(register):
    from .store import SQLiteStore

    register(SQLiteStore)
