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


def _library(name: str, needs: tuple[str, ...], option: str) -> Any:
    """The module ``name`` (``jsonlib=``, ``picklelib=``, ``compressionlib=``), checked to have ``needs``."""
    import importlib

    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(f"{option}={name!r}: no module of that name can be imported ({exc}).") from None
    missing = [fn for fn in needs if not callable(getattr(module, fn, None))]
    if missing:
        raise ConfigurationError(f"{option}={name!r}: the module has no {' or '.join(missing)} function.")
    return module


class JSONSerializer(Serializer):
    """JSON text: readable by people and other tools; for plain data (dicts, lists, strings, numbers).

    ``jsonlib`` names the module that writes it (``"json"``, or ``"orjson"`` where installed); any of
    them reads it back, so a reader need not have the same one.
    """

    type = "json"

    def __init__(self, jsonlib: str = "json") -> None:
        self.jsonlib = jsonlib
        self._lib = json if jsonlib == "json" else _library(jsonlib, ("dumps", "loads"), "jsonlib")

    def dumps(self, value: Any) -> bytes:
        text = json.dumps(value, separators=(",", ":")) if self._lib is json else self._lib.dumps(value)
        return text.encode() if isinstance(text, str) else text

    def loads(self, data: bytes) -> Any:
        return self._lib.loads(data)

    def __repr__(self) -> str:
        return "JSONSerializer()" if self.jsonlib == "json" else f"JSONSerializer(jsonlib={self.jsonlib!r})"


class PickleSerializer(Serializer):
    """cloudpickle: functions, classes and most objects. Load only results you trust: loading runs code.

    ``picklelib`` names another pickling module (``"pickle"``, ``"dill"``, ...). A reader that does
    not name it loads with cloudpickle, which reads what the standard ``pickle`` writes.
    """

    type = "pickle"

    def __init__(self, picklelib: str = "cloudpickle") -> None:
        self.picklelib = picklelib
        self._lib: Any = None if picklelib == "cloudpickle" else _library(picklelib, ("dumps", "loads"), "picklelib")

    def _module(self) -> Any:
        if self._lib is None:
            import cloudpickle

            self._lib = cloudpickle
        return self._lib

    def dumps(self, value: Any) -> bytes:
        return self._module().dumps(value)

    def loads(self, data: bytes) -> Any:
        return self._module().loads(data)

    def __repr__(self) -> str:
        return "PickleSerializer()" if self.picklelib == "cloudpickle" else f"PickleSerializer(picklelib={self.picklelib!r})"


#: How each standard compression's output begins: a payload is read back with the one that wrote it.
_MAGIC = ((b"\xfd7zXZ\x00", "lzma"), (b"BZh", "bz2"), (b"\x1f\x8b", "gzip"))


class CompressedSerializer(Serializer):
    """Another serializer's bytes, compressed with zlib (default), or ``compressionlib`` (``"lzma"``,
    ``"bz2"``, ``"gzip"``, or any module with ``compress`` and ``decompress``).

    A standard compression is recognized when read, so any reader decompresses the payload.
    """

    type = "compressed"

    def __init__(self, serializer: Union[str, Serializer] = "pickle", level: int = 6, compressionlib: str = "zlib") -> None:
        self.serializer = get_serializer(serializer)
        self.level = level
        self.compressionlib = compressionlib
        self._lib = zlib if compressionlib == "zlib" else _library(compressionlib, ("compress", "decompress"), "compressionlib")

    def dumps(self, value: Any) -> bytes:
        data = self.serializer.dumps(value)
        return zlib.compress(data, self.level) if self._lib is zlib else self._lib.compress(data)

    def loads(self, data: bytes) -> Any:
        lib = self._lib
        for magic, name in _MAGIC:
            if data.startswith(magic):
                lib = _library(name, ("decompress",), "compressionlib")
                break
        return self.serializer.loads(lib.decompress(data))

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
