"""A throwaway PostgreSQL server for the tests: started once a session, a fresh database a test.

``HEADWATER_TEST_POSTGRES_URL`` (a superuser's URL) points the tests at a server of your own
instead. Otherwise the server is made with Debian's PostgreSQL binaries (``apt-get install
postgresql``) in a temporary folder, on a free local port, and removed at the end; without them
the tests are skipped, saying so (see ``headwater_postgres.testing``).
"""

from __future__ import annotations

import itertools
import os
import pwd

import psycopg
import pytest

from headwater_postgres.testing import binaries, throwaway_server


@pytest.fixture(scope="session")
def postgres_server():
    """A superuser's URL of a running PostgreSQL server."""
    url = os.environ.get("HEADWATER_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql), and HEADWATER_TEST_POSTGRES_URL is not set")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    with throwaway_server() as url:
        yield url


_numbers = itertools.count()


@pytest.fixture
def fresh_database_url(postgres_server):
    """Make an empty database and return a function giving its URL (a new database each call)."""
    made = []

    def make() -> str:
        name = f"headwater_test_{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return postgres_server.rsplit("/", 1)[0] + "/" + name

    yield make
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        for name in made:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
