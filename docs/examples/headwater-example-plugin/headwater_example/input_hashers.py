"""An input hasher: a function passed to a task is hashed by its code, so changing the code changes the cache key.

``task_input_hash`` turns a task's inputs into a canonical form that is equal
for equal inputs in every process. Plain data, dates, paths, dataclasses and
pydantic models it knows; anything else it offers to the input hashers that
plugins register, and, if none takes it, hashes by its cloudpickle.

An input hasher is called as ``fn(value)``. It returns a form of ``value``
(JSON-like data or bytes; values inside it are hashed the same way, hashers
included), or ``NotImplemented`` when it does not handle values of that kind.
headwater tags the form with the value's type, so it cannot collide with a
plain value of the same shape.
"""

from __future__ import annotations

import hashlib
import inspect
import types
from typing import Any

__all__ = ["function_by_code"]


def function_by_code(value: Any) -> Any:
    """A Python function as its name, the hash of its source code, its defaults and the values it closes over.

    cloudpickle records a function of an importable module by its name only, so a
    task that takes such a function (``transform=clean_rows``) would hit the cache
    with an old result after ``clean_rows`` was changed. Hashed by its code, the
    change is a new key. Two closures made by one factory with different values
    (``make_scaler(2)``, ``make_scaler(3)``) get different keys too.

    Functions whose source cannot be read (built at the interactive prompt, or
    built-in) are left to cloudpickle.
    """
    if not isinstance(value, types.FunctionType):
        return NotImplemented
    try:
        source = inspect.getsource(value)
    except (OSError, TypeError):
        return NotImplemented
    return {
        "function": f"{value.__module__}.{value.__qualname__}",
        "source": hashlib.sha256(source.encode()).hexdigest(),
        "defaults": list(value.__defaults__ or ()),
        "kwdefaults": dict(value.__kwdefaults__ or {}),
        "closure": [cell.cell_contents for cell in value.__closure__ or ()],
    }
