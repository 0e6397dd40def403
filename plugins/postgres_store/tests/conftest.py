"""A throwaway PostgreSQL server for the tests: started once a session, a fresh database a test.

``HEADWATER_TEST_POSTGRES_URL`` (a superuser's URL) points the tests at a server of your own
instead. Otherwise the server is made with Debian's PostgreSQL binaries (``apt-get install
postgresql``) in a temporary folder, on a free local port, and removed at the end; without them
the tests are skipped, saying so.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import psycopg
import pytest


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A superuser's URL of a running PostgreSQL server."""
    url = os.environ.get("HEADWATER_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql), and HEADWATER_TEST_POSTGRES_URL is not set")
    # initdb refuses to run as root: as root, the server runs as the postgres user.
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = tempfile.mkdtemp(prefix="headwater-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-U", "headwater", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True)
        # fsync off: a test server's data need not survive a power cut; the tests are faster for it.
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"Could not start a test PostgreSQL server: {exc.stderr.decode(errors='replace')}") from None
    try:
        yield f"postgresql://headwater@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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
