"""Checks of the options of ``@flow`` and ``@task``: each error names the option, the value and the fix."""

from __future__ import annotations

import inspect
import numbers
import string
from typing import Any, Iterable, Optional

from .exceptions import ConfigurationError

__all__ = ["check_tags", "check_retries", "check_timeout", "check_callable", "check_hooks", "check_run_name", "check_result_options", "check_result_storage_key"]


def check_tags(tags: Optional[Iterable[str]], owner: str) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str):
        raise ConfigurationError(f"{owner}: tags={tags!r} must be a list of strings, for example tags=[{tags!r}].")
    result = tuple(tags)
    for tag in result:
        if not isinstance(tag, str) or not tag:
            raise ConfigurationError(f"{owner}: tags={list(result)!r} must hold non-empty strings; {tag!r} is not one.")
    return tuple(dict.fromkeys(result))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_retries(retries: Any, delay: Any, jitter: Any, owner: str) -> tuple[int, Any, Optional[float]]:
    if retries is None:
        retries = 0
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigurationError(f"{owner}: retries={retries!r} must be a whole number of 0 or more.")
    if delay is None:
        delay = 0
    if callable(delay):
        # A backoff policy (such as exponential_backoff(2)) gives one delay per retry, from the number of retries.
        policy = delay
        try:
            delay = policy(retries)
        except Exception as exc:
            raise ConfigurationError(
                f"{owner}: retry_delay_seconds={policy!r} raised {type(exc).__name__}: {exc} when called with "
                f"retries={retries}; a callable here takes the number of retries and returns a list of seconds."
            ) from exc
        if not isinstance(delay, (list, tuple)):
            raise ConfigurationError(
                f"{owner}: retry_delay_seconds={policy!r} returned {delay!r} for retries={retries}; "
                "it must return a list of seconds, one per retry."
            )
    if isinstance(delay, (list, tuple)):
        if not all(_is_number(d) and d >= 0 for d in delay):
            raise ConfigurationError(f"{owner}: retry_delay_seconds={delay!r} must hold numbers of seconds, 0 or more.")
        delay = list(delay)
    elif not _is_number(delay) or delay < 0:
        raise ConfigurationError(
            f"{owner}: retry_delay_seconds={delay!r} must be a number of seconds (0 or more) or a list of them, one per retry."
        )
    if jitter is not None and (not _is_number(jitter) or jitter < 0):
        raise ConfigurationError(f"{owner}: retry_jitter_factor={jitter!r} must be a number of 0 or more (0.5 spreads delays by ±50%).")
    return retries, delay, jitter


def check_timeout(timeout: Any, owner: str) -> Optional[float]:
    if timeout is None:
        return None
    if not _is_number(timeout) or timeout <= 0:
        raise ConfigurationError(f"{owner}: timeout_seconds={timeout!r} must be a number of seconds greater than 0, or None.")
    return float(timeout)


def check_callable(fn: Any, option: str, owner: str) -> None:
    if not callable(fn):
        raise ConfigurationError(f"{owner}: {option}={fn!r} is not callable; pass a function.")


def check_hooks(hooks: Any, option: str, owner: str) -> tuple[Any, ...]:
    """State hooks: a list or tuple of callables, kept as a tuple (empty when there are none)."""
    if hooks is None:
        return ()
    if not isinstance(hooks, (list, tuple)):
        hint = f"[{getattr(hooks, '__name__', 'fn')}]" if callable(hooks) else "[notify]"
        raise ConfigurationError(f"{owner}: {option}={hooks!r} must be a list of functions, for example {option}={hint}.")
    for hook in hooks:
        if not callable(hook):
            raise ConfigurationError(
                f"{owner}: {option}={list(hooks)!r} must hold functions called as hook(flow_or_task, run, state); "
                f"{hook!r} is not callable."
            )
    return tuple(hooks)


def check_run_name(name: Any, option: str, signature: inspect.Signature, owner: str) -> Any:
    """``flow_run_name`` / ``task_run_name``: a callable, or a template whose fields are parameters of the function.

    A field the function has no parameter of would fail every run; it is refused here instead.
    """
    if name is None or callable(name):
        return name
    if not isinstance(name, str):
        raise ConfigurationError(
            f"{owner}: {option}={name!r} must be a string, such as \"run-{{x}}\" (formatted with the parameters), "
            "or a function of no arguments that returns one."
        )
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for field, head in _template_fields(name, option, owner):
        if head == "" or head.isdigit():
            raise ConfigurationError(
                f"{owner}: {option}={name!r} has a positional field {{{field}}}; name the parameter, as in {{x}}."
            )
        if head not in parameters and not takes_any:
            known = ", ".join(parameters) or "none"
            raise ConfigurationError(
                f"{owner}: {option}={name!r} names {head!r}, which is not a parameter (parameters: {known})."
            )
    return name


def _template_fields(template: str, option: str, owner: str) -> list[tuple[str, str]]:
    """Each ``{field}`` of a format string, with its first name (``x`` of ``{x.y[0]}``)."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise ConfigurationError(f"{owner}: {option}={template!r} is not a valid format string ({exc}).") from None
    return [(field, field.split(".", 1)[0].split("[", 1)[0]) for field in fields]


def check_result_options(storage: Any, serializer: Any, owner: str) -> tuple[Any, Any]:
    """``result_storage`` and ``result_serializer``: what they name, or an error naming the option (both None: the defaults)."""
    resolved_storage = resolved_serializer = None
    if storage is not None:
        from .filesystems import resolve_result_storage

        resolved_storage = resolve_result_storage(storage, "result_storage", owner)
    if serializer is not None:
        from .serializers import get_serializer

        resolved_serializer = get_serializer(serializer, "result_serializer", owner)
    return resolved_storage, resolved_serializer


def check_result_storage_key(key: Any, owner: str) -> Optional[str]:
    """``result_storage_key``: a template over ``parameters``, ``flow_run`` and ``task_run``, as in
    ``"{parameters[city]}.json"``; a field naming anything else would fail every run, so it is refused here."""
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip("/"):
        raise ConfigurationError(
            f"{owner}: result_storage_key={key!r} must be a file name or path under result_storage, such as "
            "\"{parameters[name]}.json\" (fields: parameters, flow_run, task_run)."
        )
    for field, head in _template_fields(key, "result_storage_key", owner):
        if head not in ("parameters", "flow_run", "task_run"):
            raise ConfigurationError(
                f"{owner}: result_storage_key={key!r} has the field {{{field}}}; its fields start with parameters, "
                "flow_run or task_run, as in {parameters[x]} or {flow_run.name}."
            )
    return key
