"""Prefect's system blocks (``Secret``, ``JSON``, ``String``, ``DateTime``), which live in Prefect's server."""

from .._server_only import server_only_names

_ENV = "Keep the value in an environment variable (or a secrets manager) and read it in the flow."

__getattr__ = server_only_names(__name__, {"Secret": _ENV, "JSON": _ENV, "String": _ENV, "DateTime": _ENV})
