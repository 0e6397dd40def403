"""Cache-key functions: the inputs of a task run, hashed the same way in every process.

The built-in key functions are :class:`CacheKeyFunction` objects, so that they
combine with ``+`` (``task_input_hash + task_source_hash``), with each other and
with plain functions; :func:`combine_cache_keys` does the same for any functions.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import functools
import hashlib
import inspect
import json
import logging
import pathlib
import threading
import types
import uuid
import weakref
from typing import Any, Callable, Optional

__all__ = [
    "CacheKeyFunction",
    "combine_cache_keys",
    "task_input_hash",
    "task_source_hash",
    "flow_parameters_hash",
    "hash_inputs",
    "source_fingerprint",
]

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
    # Only values nothing above knows reach the input hashers plugins registered: the common path never looks them up.
    for name, hasher in _input_hashers():
        try:
            form = hasher(value)
        except Exception as exc:
            raise InputHasherError(
                f"input hasher {name!r} raised {type(exc).__name__}: {exc} on a {type(value).__qualname__}"
            ) from exc
        if form is NotImplemented or form is None:
            continue
        return ["hashed", f"{type(value).__module__}.{type(value).__qualname__}", _canonical(form, depth + 1)]
    raise _NotCanonical(type(value).__qualname__)


class InputHasherError(Exception):
    """An input hasher raised: the task's key cannot be computed (the run goes ahead without a cache)."""


def _input_hashers() -> list[tuple[str, Callable[[Any], Any]]]:
    from .plugins import get_plugins

    return list(get_plugins().input_hashers.items())


_dump_canonical = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_encode_text = json.encoder.encode_basestring  # what the encoder above does to a str (ensure_ascii=False)
_LITERALS = {None: "null", True: "true", False: "false"}


def _sortable_key(key: str) -> bool:
    # For such a key, ordering by the key orders the same as by its JSON form (what _canonical sorts by):
    # every character is above '"', so the closing quote cannot change which of two keys comes first.
    return key.isascii() and key.isidentifier()


def _plain_keys(mapping: dict) -> bool:
    for key in mapping:
        if type(key) is not str or not _sortable_key(key):
            return False
    return True


def _canonical_text(value: Any, depth: int) -> str:
    """The compact JSON text of ``_canonical(value, depth)``, built directly for the common plain types.

    A key is hashed on every call of a cached task; walking a dict or list of plain values into
    the canonical structure, then encoding it, cost several times what writing its text does.
    Anything else is handed to ``_canonical`` and the encoder, so the text is the same byte for byte.
    """
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if kind is int:
        return int.__repr__(value)
    if value is None or kind is bool:
        return _LITERALS[value]
    if depth < 100:
        # (List comprehensions, not generators, inside join: resuming a generator per item cost more.)
        if kind is dict and _plain_keys(value):
            items = ",".join(
                [f"[{_encode_text(key)},{_canonical_text(value[key], depth + 1)}]" for key in sorted(value)]
            )
            return f'["dict",[{items}]]'
        if kind is list or kind is tuple:
            items = ",".join([_canonical_text(item, depth + 1) for item in value])
            return f'["{"list" if kind is list else "tuple"}",[{items}]]'
        if kind is float:
            return f'["float","{value.hex()}"]'
    return _dump_canonical(_canonical(value, depth))


def hash_inputs(*parts: Any) -> Optional[str]:
    """A stable hex digest of ``parts``: canonical JSON where it can, cloudpickle where it must."""
    try:
        data = _canonical_text(list(parts), 0).encode()
    except _NotCanonical:
        import cloudpickle

        try:
            data = cloudpickle.dumps(parts, protocol=5)
        except Exception:
            return None
    return hashlib.sha256(data).hexdigest()[:32]


class CacheKeyFunction:
    """A cache-key function ``fn(context, parameters)`` that combines with others with ``+``.

    ``a + b`` is a key function whose key changes when either part's does, and
    that is ``None`` (do not cache) when either part is. A plain function works
    on either side of ``+`` as long as the other side is a ``CacheKeyFunction``.
    """

    def __init__(self, fn: Callable[[Any, dict[str, Any]], Any], name: Optional[str] = None) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)  # name, module and docstring, for `headwater plugins ls` and errors
        self.name: str = name or getattr(fn, "__name__", None) or repr(fn)
        self.__name__ = self.__qualname__ = self.name  # so that registries and `headwater plugins ls` show this name

    def __call__(self, context: Any, parameters: dict[str, Any]) -> Any:
        return self.fn(context, parameters)

    def __add__(self, other: Callable[..., Any]) -> CacheKeyFunction:
        if not callable(other):
            return NotImplemented
        return combine_cache_keys(self, other)

    def __radd__(self, other: Callable[..., Any]) -> CacheKeyFunction:
        if not callable(other):
            return NotImplemented
        return combine_cache_keys(other, self)

    def __repr__(self) -> str:
        return f"<cache key function {self.name}>"


def combine_cache_keys(*fns: Callable[[Any, dict[str, Any]], Any]) -> CacheKeyFunction:
    """One cache-key function made of several: its key hashes all their keys, and is ``None`` if any of them is."""
    parts: list[Callable[..., Any]] = []
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"combine_cache_keys() takes cache-key functions fn(context, parameters); got {fn!r}")
        # (a + b) + c is one flat combination of three, so that the parts show in its name.
        parts.extend(getattr(fn, "parts", None) or (fn,))
    if not parts:
        raise TypeError("combine_cache_keys() needs at least one cache-key function")

    def combined(context: Any, parameters: dict[str, Any]) -> Optional[str]:
        keys = []
        for part in parts:
            key = part(context, parameters)
            if key is None:
                return None  # one part says "do not cache": the whole says so
            keys.append(str(key))
        return hash_inputs(*keys)

    name = "+".join(getattr(part, "name", None) or getattr(part, "__name__", None) or repr(part) for part in parts)
    result = CacheKeyFunction(combined, name=name)
    result.parts = tuple(parts)  # type: ignore[attr-defined]
    return result


def _task_input_hash(context: Any, parameters: dict[str, Any]) -> Optional[str]:
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


def _code_fingerprint(code: types.CodeType) -> list[Any]:
    # Constants may be nested code objects (inner functions, comprehensions), whose repr holds an address.
    consts = [_code_fingerprint(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), consts, list(code.co_names)]


_fingerprints: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_fingerprints_lock = threading.Lock()


def source_fingerprint(fn: Callable[..., Any]) -> str:
    """A digest of ``fn``'s source code, or of its bytecode and constants where it has no source (``exec``, a REPL).

    Worked out once per function object: reading and tokenizing a file costs far more than a run.
    """
    try:
        with _fingerprints_lock:
            return _fingerprints[fn]
    except (KeyError, TypeError):
        pass
    target = inspect.unwrap(fn)
    try:
        material: Any = inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        material = _code_fingerprint(code) if code is not None else repr(target)
    digest = hash_inputs(material) or ""
    try:
        with _fingerprints_lock:
            _fingerprints[fn] = digest
    except TypeError:
        pass  # not weak-referenceable: worked out again next time
    return digest


def _task_source_hash(context: Any, parameters: dict[str, Any]) -> Optional[str]:
    """A cache key from the task's identity and its source code: a new key whenever the function's code changes.

    The inputs do not count; add ``task_input_hash`` for that (``task_input_hash + task_source_hash``).
    """
    return hash_inputs(context.task.task_key, source_fingerprint(context.task.fn))


def _flow_parameters_hash(context: Any, parameters: dict[str, Any]) -> Optional[str]:
    """A cache key from the task's identity, and the name and parameters of the flow run it runs in.

    The parameters are the values the flow function received (a secret's real value, not its
    masked record; any value ``task_input_hash`` can hash). A task run outside any flow has no
    flow parameters, and its key is the same for every such run.
    """
    flow_run = context.flow_run
    if flow_run is None:
        return hash_inputs(context.task.task_key, None)
    return hash_inputs(context.task.task_key, flow_run.flow_name, context.flow_parameters)


task_input_hash = CacheKeyFunction(_task_input_hash, name="task_input_hash")
task_source_hash = CacheKeyFunction(_task_source_hash, name="task_source_hash")
flow_parameters_hash = CacheKeyFunction(_flow_parameters_hash, name="flow_parameters_hash")
