"""headwater's web UI: ``headwater ui`` serves pages and a JSON API over the store.

It reads the record only through the :class:`headwater.stores.Store` contract, so it shows
any store a plugin provides. The command is contributed through the ``register_commands``
hook, like a third-party plugin's; the web framework is imported only when it runs.
"""

from headwater.hookspecs import hookimpl


@hookimpl
def register_commands(register):
    from .command import ui

    register(ui)
