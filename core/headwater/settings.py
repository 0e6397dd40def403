"""headwater's settings: one frozen dataclass, filled from ``HEADWATER_*`` environment variables.

Settings are read when a top-level flow or task run starts, so a test or a script
that changes the environment between runs is seen. Each value remembers where it
came from (``env`` or ``default``) for ``headwater config``.

Each field names the function that turns its variable's text into a value (``parse``, raising
ValueError with what the value must be) and says what it is for (``description``). They are plain
Python, not a pydantic model: every process reads its settings before its first run, and building
a pydantic model cost a cold start 0.1-0.2 s here (a one-task flow script took 0.55 s).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from .exceptions import ConfigurationError

__all__ = ["Settings", "get_settings", "last_settings", "ENV_PREFIX"]

ENV_PREFIX = "HEADWATER_"
PROGRESS_MODES = ("auto", "on", "off")
STORE_WRITERS = ("process", "thread")
STORE_DURABILITIES = ("batched", "strict")
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOGGING_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOGGING_LEVELS)}")
    return level


def _serializer_name(text: str) -> str:
    from .serializers import get_serializer, serializer_names

    name = text.strip()
    try:
        get_serializer(name)
    except ValueError:
        raise ValueError(f"must name a serializer: one of {', '.join(serializer_names())}, or 'compressed/' and one of them") from None
    return name


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser of a word that must be one of ``choices`` (any case)."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return word

    return parse


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("must be a boolean: 1, true, yes or on; 0, false, no or off")


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds, such as 10 or 0.5") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("must be a number of seconds above 0")
    return seconds


def _retries(text: str) -> int:
    try:
        retries = int(text.strip())
    except ValueError:
        raise ValueError("must be a whole number of retries, 0 or more") from None
    if retries < 0:
        raise ValueError("must be a whole number of retries, 0 or more")
    return retries


def _retry_delay(text: str) -> Union[float, list[float]]:
    """Seconds before a retry, or a comma-separated list of them (one a retry), as ``retry_delay_seconds`` takes."""
    try:
        delays = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError("must be a number of seconds (such as 10) or a comma-separated list of them, one a retry (such as 1,10,60)") from None
    if not all(0 <= d < float("inf") for d in delays):
        raise ValueError("must be numbers of seconds, 0 or more")
    return delays[0] if len(delays) == 1 else delays


def _text(text: str) -> str:
    return text


def _setting(default: Any, description: str, parse: Callable[[str], Any] = _text, factory: Any = None) -> Any:
    metadata = {"description": description, "parse": parse}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Settings:
    home: Path = _setting(None, "Folder for the database and results.", _path, factory=lambda: Path.home() / ".headwater")
    database_url: Optional[str] = _setting(
        None, "URL of the store's database: sqlite:///<path> (default sqlite:///<home>/headwater.db), or "
        "postgresql://user:password@host:port/dbname with HEADWATER_STORE=postgres."
    )
    local_storage_path: Optional[Path] = _setting(None, "Folder for persisted results; default <home>/storage.", _path)
    results_persist_by_default: bool = _setting(
        False, "Whether flows and tasks that leave persist_result unset persist their results.", _bool
    )
    results_default_serializer: Optional[str] = _setting(
        None, "Serializer of persisted results for flows and tasks without result_serializer (json, pickle, ...).", _serializer_name
    )
    logging_level: str = _setting("INFO", "Level of headwater's run loggers.", _level)
    logging_log_prints: bool = _setting(
        False, "Whether print() in flows and tasks that leave log_prints unset goes to the run's logger.", _bool
    )
    logging_extra_loggers: str = _setting(
        "", "Comma-separated names of other libraries' loggers whose lines in a run are shown and kept as the run's."
    )
    store: str = _setting("sqlite", "Name of the registered store to use.")
    store_writer: str = _setting(
        "process", "Where the SQLite store commits its writes: process (a child process of its own) or thread (of this process).", _one_of(STORE_WRITERS)
    )
    store_durability: str = _setting(
        "batched",
        "When a run's final state is committed: batched (with the states around it, within about 50 ms) or strict "
        "(before its result is handed back, so a result a caller saw is always recorded; slower).",
        _one_of(STORE_DURABILITIES),
    )
    heartbeat_interval: float = _setting(
        10.0, "Seconds between the heartbeats a process with unfinished runs records in the store.", _positive_seconds
    )
    heartbeat_timeout: float = _setting(
        90.0,
        "Seconds without a heartbeat after which an unfinished run of another host is recorded Crashed "
        "(runs of this host are checked by their process id).",
        _positive_seconds,
    )
    # Prefect 2's PREFECT_TASK_DEFAULT_RETRIES and the like: read when a task or flow is made
    # (decorated) without the option; refresh_cache when a cached task run is about to start.
    task_default_retries: int = _setting(0, "Retries of a task that does not set retries=.", _retries)
    task_default_retry_delay_seconds: Union[float, list[float]] = _setting(
        0.0, "Seconds before a retry of a task that does not set retry_delay_seconds= (or a comma-separated list, one a retry).", _retry_delay
    )
    flow_default_retries: int = _setting(0, "Retries of a flow that does not set retries=.", _retries)
    flow_default_retry_delay_seconds: Union[float, list[float]] = _setting(
        0.0, "Seconds before a retry of a flow that does not set retry_delay_seconds= (or a comma-separated list).", _retry_delay
    )
    tasks_refresh_cache: bool = _setting(
        False, "Run every cached task again and file its new result, as refresh_cache=True does, unless the task sets refresh_cache=False.", _bool
    )
    load_plugins: Optional[str] = _setting(None, "Comma-separated entry points to load; empty loads none; unset loads all.")
    block_plugins: str = _setting("", "Comma-separated entry points never to load.")
    strict_plugins: bool = _setting(False, "Raise instead of warning when a plugin fails to load.", _bool)
    trace_plugins: bool = _setting(False, "Log every hook call.", _bool)
    progress: str = _setting("auto", "Live task-run counts on stderr: auto (when stderr is a terminal), on or off.", _one_of(PROGRESS_MODES))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'headwater.db'}"

    @property
    def resolved_storage_path(self) -> Path:
        return self.local_storage_path or self.home / "storage"

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        """Each setting's name and what it is for, in order."""
        return {field.name: field.metadata["description"] for field in dataclasses.fields(cls)}

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """The settings the ``HEADWATER_*`` variables of ``environ`` (default: the process's) give."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = ENV_PREFIX + field.name.upper()
            if key not in env:
                continue
            text = env[key]
            try:
                values[field.name] = field.metadata["parse"](text)
            except ValueError as exc:
                raise ConfigurationError(
                    f"Setting {key}={text!r} is not valid: it {exc}. Change or unset the environment variable {key}."
                ) from None
        return cls(**values)

    def sources(self, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """Where each setting's value came from: ``env`` or ``default``."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        return {field.name: ("env" if ENV_PREFIX + field.name.upper() in env else "default") for field in dataclasses.fields(self)}


_cache: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings for the current environment (rebuilt only when a HEADWATER_ variable changed)."""
    global _cache
    snapshot = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))
    if _cache is None or _cache[0] != snapshot:
        _cache = (snapshot, Settings.from_env())
    return _cache[1]


def last_settings() -> Settings:
    """The settings :func:`get_settings` returned last, without looking at the environment again.

    For code that runs just after a top-level run read its settings, where ``get_settings()``
    (a scan of the environment) would be a second, per-run cost.
    """
    return _cache[1] if _cache is not None else get_settings()
