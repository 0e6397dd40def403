"""How the modules of ``headwater.runtime`` answer for their attributes."""

from __future__ import annotations

import os
from typing import Any, Callable


def module_getattr(module: str, attributes: dict[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that reads each attribute from its function, unless the environment sets it."""
    prefix = f"HEADWATER__RUNTIME__{module.rsplit('.', 1)[-1].upper()}__"

    def __getattr__(name: str) -> Any:
        read = attributes.get(name)
        override = os.environ.get(prefix + name.upper()) if not name.startswith("__") else None
        if override is not None:
            return _cast(override, read()) if read is not None else override
        if read is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}; it has {', '.join(attributes)}")
        return read()

    return __getattr__


def _cast(text: str, current: Any) -> Any:
    """An environment value, as the type the attribute has (JSON for a dict or a list)."""
    import json

    import datetime

    if isinstance(current, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, datetime.datetime):
        return datetime.datetime.fromisoformat(text)
    if isinstance(current, (dict, list)):
        return json.loads(text)
    return text
