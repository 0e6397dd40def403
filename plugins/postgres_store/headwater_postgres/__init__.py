"""A headwater store on PostgreSQL: one record of runs, cache entries and concurrency limits for many hosts.

Selected with ``HEADWATER_STORE=postgres`` and
``HEADWATER_DATABASE_URL=postgresql://user:password@host:port/dbname``; registered through the
``register_result_stores`` hook like the default SQLite store.
"""

from headwater.hookspecs import hookimpl


@hookimpl
def register_result_stores(register):
    from .store import PostgresStore

    register(PostgresStore)
