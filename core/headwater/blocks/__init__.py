"""Prefect's blocks, which headwater does not have (they are kept by Prefect's server).

For result storage, give ``result_storage`` a folder or an fsspec URL, or use
:mod:`headwater.filesystems`. For secrets and configuration, read environment variables.
Each name raises :class:`~headwater.exceptions.NotAvailable` when imported.
"""

from .._server_only import server_only_names

__getattr__ = server_only_names(__name__, {
    "Block": "Configure with plain objects and environment variables; for result storage, see headwater.filesystems.",
})
