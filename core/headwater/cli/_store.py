"""Opening the store for a command (imported lazily: it pulls in settings, plugins and the store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client import Client


def open_client() -> Client:
    """The read client over the store the settings point at (HeadwaterError when it cannot be opened)."""
    from ..client import get_client

    return get_client()
