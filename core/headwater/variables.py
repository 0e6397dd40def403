"""Prefect's variables, which live in Prefect's server."""

from ._server_only import server_only_names

__getattr__ = server_only_names(__name__, {
    "Variable": "Keep the value in an environment variable or a config file and read it in the flow.",
})
