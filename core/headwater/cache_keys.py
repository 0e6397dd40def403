"""Cache-key functions: the inputs of a task run, hashed the same way in every process."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import hashlib
import json
import logging
import pathlib
import uuid
from typing import Any, Optional

__all__ = ["task_input_hash", "hash_inputs"]

logger = logging.getLogger("headwater.tasks")


class _NotCanonical(Exception):
    pass


def _canonical(value: Any, depth: int = 0) -> Any:
    """A JSON structure that is equal for equal inputs in any process (sets are sorted, types tagged)."""
    if depth > 100:
        raise _NotCanonical("nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return value if type(value) is int else ["int", type(value).__qualname__, int(value)]
    if isinstance(value, float):
        return ["float", value.hex()]
    if isinstance(value, (list, tuple)):
        # Every container is tagged, so that no list can spell the same form as another value.
        return ["list" if type(value) is list else "tuple", [_canonical(item, depth + 1) for item in value]]
    if isinstance(value, dict):
        pairs = [[_canonical(k, depth + 1), _canonical(v, depth + 1)] for k, v in value.items()]
        return ["dict", sorted(pairs, key=lambda pair: json.dumps(pair[0], sort_keys=True))]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((_canonical(item, depth + 1) for item in value), key=lambda c: json.dumps(c, sort_keys=True))]
    if isinstance(value, (bytes, bytearray)):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, enum.Enum):
        return ["enum", f"{type(value).__module__}.{type(value).__qualname__}", _canonical(value.value, depth + 1)]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return ["datetime", type(value).__name__, value.isoformat()]
    if isinstance(value, _dt.timedelta):
        return ["timedelta", value.total_seconds()]
    if isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        return [type(value).__name__, str(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return ["dataclass", f"{type(value).__module__}.{type(value).__qualname__}", _canonical(fields, depth + 1)]
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump) and not isinstance(value, type):
        return ["model", f"{type(value).__module__}.{type(value).__qualname__}", _canonical(dump(mode="json"), depth + 1)]
    raise _NotCanonical(type(value).__qualname__)


def hash_inputs(*parts: Any) -> Optional[str]:
    """A stable hex digest of ``parts``: canonical JSON where it can, cloudpickle where it must."""
    try:
        data = json.dumps(_canonical(list(parts)), separators=(",", ":"), ensure_ascii=False).encode()
    except _NotCanonical:
        import cloudpickle

        try:
            data = cloudpickle.dumps(parts, protocol=5)
        except Exception:
            return None
    return hashlib.sha256(data).hexdigest()[:32]


def task_input_hash(context: Any, parameters: dict[str, Any]) -> Optional[str]:
    """A cache key from the task's identity and the values of its inputs.

    Equal inputs give the same key in every process and on every machine; an
    input that cannot be hashed gives a warning, and the run is not cached.
    """
    key = hash_inputs(context.task.task_key, parameters)
    if key is None:
        logger.warning(
            "Task %r: its inputs cannot be hashed by task_input_hash (they are neither canonical "
            "data nor picklable); the task runs without a cache.",
            context.task.name,
        )
    return key
