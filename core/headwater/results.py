"""How results and parameters become bytes and text.

A persisted result is JSON when the value is plain JSON data that comes back
equal (so payloads stay readable by people and other tools), and cloudpickle
otherwise. The first byte of a payload says which.

Results are only ever deserialized from headwater's own result store: a
cloudpickle payload can run code when loaded, so the store must be trusted.
"""

from __future__ import annotations

import hashlib
import json
import json.scanner
from typing import TYPE_CHECKING, Any, Callable, Optional

from .exceptions import ResultSerializationError

if TYPE_CHECKING:
    from .serializers import Serializer
    from .stores import Store

__all__ = ["dumps_result", "loads_result", "load_result", "read_payload", "storage_key_for", "jsonable", "jsonable_parameters"]

_JSON = b"J"
_PICKLE = b"P"
_SERIALIZED = b"S"  # then the name of the serializer chosen with result_serializer=, a newline, and its bytes
_MAX_REPR = 1000
_json_decoder = json.JSONDecoder()
_scan_json = json.scanner.make_scanner(_json_decoder)  # type: ignore[arg-type]  # (typeshed: a decoder is what it takes)


def _decode_json(text: str) -> Any:
    """``json.loads`` of a payload headwater wrote: compact JSON, read by the scanner straight.

    ``JSONDecoder.decode`` is Python around that scanner, with a regular expression each side for
    whitespace: 1 us of a cache hit, against 0.2 us. Text the scanner does not read to its end
    (it cannot be a payload of ours) goes to ``decode``, for its error.
    """
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else _json_decoder.decode(text)


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    kind = type(value)
    if kind in (str, int, bool) or value is None:
        return True
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if kind is list:
        return all(_is_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(key) is str and _is_plain_json(item, depth + 1) for key, item in value.items())
    return False


def dumps_result(value: Any, *, owner: str = "result", serializer: Optional[Serializer] = None) -> bytes:
    """Serialize a result (with ``serializer`` if given); ``owner`` names the task or flow in the error if it cannot be done."""
    if serializer is not None:
        from .serializers import type_name

        try:
            data = serializer.dumps(value)
        except Exception as exc:
            raise ResultSerializationError(
                f"The result of {owner} (a {type(value).__module__}.{type(value).__qualname__}) cannot be "
                f"serialized with result_serializer={type_name(serializer)!r}: {exc}. Return a value that "
                "serializer takes, or choose another (\"pickle\" takes almost anything)."
            ) from exc
        return _SERIALIZED + type_name(serializer).encode() + b"\n" + data
    if _is_plain_json(value):
        return _JSON + json.dumps(value, separators=(",", ":")).encode()
    import cloudpickle

    try:
        return _PICKLE + cloudpickle.dumps(value)
    except Exception as exc:
        raise ResultSerializationError(
            f"The result of {owner} (a {type(value).__module__}.{type(value).__qualname__}) cannot be "
            f"serialized with JSON or cloudpickle: {exc}. Return a picklable value, or set "
            "persist_result=False and do not cache this task."
        ) from exc


def loads_result(payload: bytes) -> Any:
    marker, body = payload[:1], payload[1:]
    if marker == _JSON:
        return _decode_json(body.decode())
    if marker == _PICKLE:
        import cloudpickle

        return cloudpickle.loads(body)
    if marker == _SERIALIZED:
        from .serializers import get_serializer

        name, _, data = body.partition(b"\n")
        return get_serializer(name.decode()).loads(data)
    raise ValueError(f"not a headwater result payload (starts with {payload[:8]!r})")


def read_payload(store: Store, storage_key: str) -> bytes:
    """The payload under ``storage_key``: a URL for a result kept in ``result_storage``, else a key of the store's."""
    if "://" in storage_key:
        from .filesystems import read_url

        return read_url(storage_key)
    return store.read_result(storage_key)


def load_result(storage_key: str) -> Any:
    """Read a persisted result, from the current store or the result storage it was written to."""
    from .stores import get_store

    return loads_result(read_payload(get_store(), storage_key))


def storage_key_for(run_id: str) -> str:
    """The storage key of a run's result: a hex digest, so it is always a safe file name."""
    return hashlib.sha256(run_id.encode()).hexdigest()


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe picture of a value for run records: the value itself where it is plain, else its repr."""
    if _is_plain_json(value):
        return value
    if depth < 4:
        if isinstance(value, (list, tuple, set, frozenset)):
            return [jsonable(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {_described(key, str): jsonable(item, depth + 1) for key, item in value.items()}
    text = _described(value, repr)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def jsonable_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The run record's picture of a run's parameters: ``jsonable`` of each value.

    (A plain scalar, the usual parameter, is taken as it is here: a call less for each, every task run.)
    """
    return {name: value if type(value) in _PLAIN_SCALARS else jsonable(value) for name, value in parameters.items()}


def _described(value: Any, describe: Callable[[Any], str]) -> str:
    """``describe(value)``, or a placeholder naming its type if that raises: a record is still made,
    and a run must not fail for how one of its values is described."""
    try:
        return describe(value)
    except Exception as exc:
        return f"<{type(value).__qualname__} object; its {describe.__name__}() raised {type(exc).__name__}>"
