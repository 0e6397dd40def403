"""Prefect names that need Prefect's server, for modules that stand where Prefect's do.

Importing one of them raises :class:`~headwater.exceptions.NotAvailable` with what to use in
headwater instead: clearer than the ImportError a missing module would give.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

from .exceptions import NotAvailable

__all__ = ["server_only_names", "not_available"]


def not_available(qualified_name: str, instead: str) -> NoReturn:
    raise NotAvailable(f"{qualified_name} needs Prefect's server, which headwater does not have. {instead}")


def server_only_names(module: str, instead: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` under which each name of ``instead`` raises, saying what to do instead."""

    def __getattr__(name: str) -> Any:
        if name in instead:
            not_available(f"{module}.{name}", instead[name])
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
