"""Named registries filled by the ``register_*`` hooks."""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from .exceptions import PluginError

T = TypeVar("T")

__all__ = ["Registry"]


def _origin(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}"


class Registry(Generic[T]):
    """Objects of one kind by name. A name registered twice is an error that names both objects.

    ``check`` validates each object where it is registered, so that a plugin
    handing over the wrong thing fails at load time with its name in the error.
    """

    def __init__(self, kind: str, hook: str, check: Callable[[Any], Optional[str]]) -> None:
        self.kind = kind
        self.hook = hook
        self._check = check
        self._items: dict[str, T] = {}

    def register(self, obj: T, name: Optional[str] = None) -> None:
        problem = self._check(obj)
        if problem:
            raise PluginError(f"{self.hook}: {_origin(obj)} cannot be registered as a {self.kind}: {problem}.")
        name = name or getattr(obj, "name", None) or getattr(obj, "__name__", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.hook}: {_origin(obj)} has no name; pass register(obj, name='...').")
        if name in self._items:
            raise PluginError(
                f"{self.hook}: the {self.kind} name {name!r} is registered twice, by "
                f"{_origin(self._items[name])} and by {_origin(obj)}. Uninstall or block one of the two plugins "
                "(HEADWATER_BLOCK_PLUGINS)."
            )
        self._items[name] = obj

    def get(self, name: str) -> Optional[T]:
        return self._items.get(name)

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
