"""``headwater ui``: serve the web UI over the store the settings point at, until Ctrl-C."""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
from typing import Optional

import click

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a usage error naming the option that has to change."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise click.BadParameter(f"{host!r} is not an address or host name this machine can bind ({exc.strerror}).", param_hint="'--host'") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT after a restart; never one in use
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise click.BadParameter(
                f"port {port} on {host} is in use by another program; stop it, or choose another port (--port {port + 1}).",
                param_hint="'--port'",
            ) from None
        if exc.errno == errno.EACCES:
            raise click.BadParameter(f"binding port {port} needs privileges this process lacks; choose one above 1023.", param_hint="'--port'") from None
        raise click.BadParameter(f"cannot bind {host}:{port}: {exc.strerror}.", param_hint="'--host'") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on. Any address but the loopback needs --token.")
@click.option("--port", default=4200, show_default=True, type=click.IntRange(0, 65535), help="Port to serve on (0: any free port).")
@click.option(
    "--token",
    envvar="HEADWATER_UI_TOKEN",
    help="A secret every request must carry (the printed address has it). Required off the loopback; "
    "'generate' makes one. [env: HEADWATER_UI_TOKEN]",
)
def ui(host: str, port: int, token: Optional[str]) -> None:
    """Serve a web UI over the store: flow runs, task timelines and graphs, logs, cache, limits, plugins.

    Read-only. It shows the store the HEADWATER_* settings point at, as `headwater runs ls` does,
    and follows unfinished runs live.
    """
    if token == "generate":
        token = secrets.token_urlsafe(24)
    if token is not None and not token.strip():
        raise click.BadParameter("the token is empty; give a secret of at least 16 characters, or 'generate'.", param_hint="'--token'")
    if token is not None and len(token) < 16:
        raise click.BadParameter("the token is shorter than 16 characters; give a longer secret, or 'generate'.", param_hint="'--token'")
    if token is None and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} would let other machines read the whole record of runs. Give a token every "
            "request must carry (--token SECRET, --token generate, or HEADWATER_UI_TOKEN), or serve on "
            "127.0.0.1 (the default)."
        )

    from headwater.stores import get_store

    store = get_store()  # a store that cannot be opened says so here, before anything is served
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]

    import uvicorn

    from .app import create_app
    from .serving import QuietServer

    allowed = None if token is not None else {*LOOPBACK_NAMES, host}
    app = create_app(store, token=token, allowed_hosts=allowed)
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{bound_port}/" + (f"?token={token}" if token else "")
    click.echo(f"headwater UI at {address}  (the {store.name!r} store; Ctrl-C to stop)", err=False)
    config = uvicorn.Config(app, log_level=os.environ.get("HEADWATER_UI_LOG_LEVEL", "warning"), access_log=False, lifespan="off")
    try:
        QuietServer(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C again once it has shut down
        pass
    click.echo("headwater UI stopped.")
