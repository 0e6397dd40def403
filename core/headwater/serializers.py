"""Result serializers: how a persisted result becomes bytes, chosen with ``result_serializer=``.

``"json"`` (plain JSON data only), ``"pickle"`` (cloudpickle: almost anything), and each of those
``"compressed/..."`` (zlib). A :class:`Serializer` subclass of your own works too: give it a
``type`` name and ``dumps``/``loads``; the name is written with each payload, so a process that
reads the result finds the class by it (define or import it there too).

Without ``result_serializer``, headwater picks per value: JSON when the value is plain JSON data
that comes back equal, cloudpickle otherwise (see :mod:`headwater.results`).
"""

from __future__ import annotations

import json
import zlib
from typing import Any, ClassVar, Optional, Union

from .exceptions import ConfigurationError

__all__ = ["Serializer", "JSONSerializer", "PickleSerializer", "CompressedSerializer", "get_serializer", "serializer_names"]

_by_type: dict[str, type[Serializer]] = {}


class Serializer:
    """Turns a result into bytes and back. Subclasses set ``type``, a name unique among serializers."""

    type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            _by_type[cls.type] = cls

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class JSONSerializer(Serializer):
    """JSON text: readable by people and other tools; for plain data (dicts, lists, strings, numbers)."""

    type = "json"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


class PickleSerializer(Serializer):
    """cloudpickle: functions, classes and most objects. Load only results you trust: loading runs code."""

    type = "pickle"

    def dumps(self, value: Any) -> bytes:
        import cloudpickle

        return cloudpickle.dumps(value)

    def loads(self, data: bytes) -> Any:
        import cloudpickle

        return cloudpickle.loads(data)


class CompressedSerializer(Serializer):
    """Another serializer's bytes, compressed with zlib."""

    type = "compressed"

    def __init__(self, serializer: Union[str, Serializer] = "pickle", level: int = 6) -> None:
        self.serializer = get_serializer(serializer)
        self.level = level

    def dumps(self, value: Any) -> bytes:
        return zlib.compress(self.serializer.dumps(value), self.level)

    def loads(self, data: bytes) -> Any:
        return self.serializer.loads(zlib.decompress(data))

    def __repr__(self) -> str:
        return f"CompressedSerializer({self.serializer!r})"


def type_name(serializer: Serializer) -> str:
    """The name a payload records, from which :func:`get_serializer` makes the serializer again."""
    if isinstance(serializer, CompressedSerializer):
        return f"compressed/{type_name(serializer.serializer)}"
    return serializer.type


def serializer_names() -> list[str]:
    """The names ``result_serializer`` takes (``compressed/`` and one of them too)."""
    return sorted(name for name in _by_type if name != "compressed")


def get_serializer(spec: Union[str, Serializer, None], option: str = "result_serializer", owner: Optional[str] = None) -> Serializer:
    """The serializer ``spec`` names: a type name such as ``"json"`` or ``"compressed/pickle"``, or a serializer."""
    if isinstance(spec, Serializer):
        return spec
    if isinstance(spec, str):
        name = "pickle" if spec == "cloudpickle" else spec
        if name.startswith("compressed/"):
            return CompressedSerializer(get_serializer(name.split("/", 1)[1], option, owner))
        found = _by_type.get(name)
        if found is not None and found is not CompressedSerializer:
            return found()
    where = f"{owner}: " if owner else ""
    known = ", ".join(serializer_names())
    raise ConfigurationError(
        f"{where}{option}={spec!r} names no serializer; use one of {known} (or 'compressed/' and one of them), "
        "or an instance of a headwater.serializers.Serializer subclass."
    )
