"""Annotations: wrappers that change how headwater treats a task's argument.

- ``unmapped(value)``: ``Task.map`` passes the value whole to every run instead of mapping over it.
- ``allow_failure(future_or_state)``: the task runs even if that upstream run failed, and gets the
  upstream's exception as the argument's value.
- ``quote(value)``: headwater does not look inside the value for futures (a big collection costs
  nothing to pass); the task gets the value itself, and no dependency is recorded through it.

Each wraps exactly one value; ``unwrap()`` gives it back. They are ordinary small classes, not
tuples as in Prefect 3: ``isinstance(annotation, tuple)`` is False, so a map never iterates one.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["BaseAnnotation", "unmapped", "allow_failure", "quote"]

T = TypeVar("T")


class BaseAnnotation(Generic[T]):
    """One wrapped value."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        return self.value

    def rewrap(self, value: Any) -> BaseAnnotation[Any]:
        """The same annotation around another value (``Task.map`` wraps each element as the whole was)."""
        return type(self)(value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.value == other.value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), id(self.value)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class unmapped(BaseAnnotation[T]):
    """Pass an iterable whole to every run of ``Task.map`` instead of mapping over it."""

    __slots__ = ()


class allow_failure(BaseAnnotation[T]):
    """Let the task run even if this upstream future or state failed; it then gets the upstream's exception.

    Also in ``wait_for=[allow_failure(future)]``: the run waits for the future, and runs however it ended.
    """

    __slots__ = ()


class quote(BaseAnnotation[T]):
    """Pass the value as it is: headwater neither looks inside it for futures nor records dependencies through it."""

    __slots__ = ()

    def unquote(self) -> T:
        return self.value
