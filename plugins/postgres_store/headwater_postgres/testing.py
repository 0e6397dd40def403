"""A throwaway PostgreSQL server for tests and benchmarks: made in a temporary folder, removed after.

    with throwaway_server() as url:        # a superuser's URL: postgresql://headwater@127.0.0.1:PORT/postgres
        ...

Made with the PostgreSQL binaries on the machine (Debian's ``postgresql`` package puts them in
/usr/lib/postgresql/VERSION/bin), on a free local port, with fsync off: its data need not survive
a power cut. As root, the server runs as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from typing import Iterator, Optional, Sequence

__all__ = ["binaries", "throwaway_server"]


def binaries() -> Optional[str]:
    """The folder of PostgreSQL's server binaries (initdb, pg_ctl), or None where there are none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def throwaway_server(max_connections: int = 200, listen: Sequence[str] = ("127.0.0.1",), trusted: Sequence[str] = ()) -> Iterator[str]:
    """Start a PostgreSQL server and yield a superuser's URL; stop it and delete its folder at the end.

    ``listen``: the addresses it listens on (the URL names the first); ``trusted``: networks
    (``10.0.0.0/24``) whose clients it lets in without a password, besides this host's own.
    """
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="headwater-pg-")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")  # (KeyError: no user to run it as)
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chown(root, owner.pw_uid, owner.pw_gid)
    os.chmod(root, 0o755)
    data, port = os.path.join(root, "data"), _free_port()
    try:
        subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-U", "headwater", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True)
        if trusted:
            with open(os.path.join(data, "pg_hba.conf"), "a") as hba:
                hba.writelines(f"host all all {network} trust\n" for network in trusted)
        addresses = ",".join(listen)
        options = f"-p {port} -k {root} -c listen_addresses={addresses} -c fsync=off -c max_connections={max_connections}"
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"Could not start a PostgreSQL server: {exc.stderr.decode(errors='replace').strip()}") from None
    try:
        yield f"postgresql://headwater@{listen[0]}:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
