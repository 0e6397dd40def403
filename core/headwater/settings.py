"""headwater's settings: one pydantic model, filled from ``HEADWATER_*`` environment variables.

Settings are read when a top-level flow or task run starts, so a test or a script
that changes the environment between runs is seen. Each value remembers where it
came from (``env`` or ``default``) for ``headwater config``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .exceptions import ConfigurationError

__all__ = ["Settings", "get_settings", "last_settings", "ENV_PREFIX"]

ENV_PREFIX = "HEADWATER_"
PROGRESS_MODES = ("auto", "on", "off")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".headwater", description="Folder for the database and results.")
    database_url: Optional[str] = Field(None, description="URL of the store's SQLite database file, sqlite:///<path>; default sqlite:///<home>/headwater.db.")
    local_storage_path: Optional[Path] = Field(None, description="Folder for persisted results; default <home>/storage.")
    logging_level: str = Field("INFO", description="Level of headwater's run loggers.")
    store: str = Field("sqlite", description="Name of the registered store to use.")
    load_plugins: Optional[str] = Field(None, description="Comma-separated entry points to load; empty loads none; unset loads all.")
    block_plugins: str = Field("", description="Comma-separated entry points never to load.")
    strict_plugins: bool = Field(False, description="Raise instead of warning when a plugin fails to load.")
    trace_plugins: bool = Field(False, description="Log every hook call.")
    progress: str = Field("auto", description="Live task-run counts on stderr: auto (when stderr is a terminal), on or off.")

    @field_validator("home", "local_storage_path", mode="after")
    @classmethod
    def _expand(cls, value: Optional[Path]) -> Optional[Path]:
        return value.expanduser() if value is not None else None

    @field_validator("logging_level", mode="after")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("progress", mode="after")
    @classmethod
    def _progress(cls, value: str) -> str:
        mode = value.strip().lower()
        if mode not in PROGRESS_MODES:
            raise ValueError(f"must be one of {', '.join(PROGRESS_MODES)}")
        return mode

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'headwater.db'}"

    @property
    def resolved_storage_path(self) -> Path:
        return self.local_storage_path or self.home / "storage"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        env: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            raise ConfigurationError(
                f"Setting {ENV_PREFIX}{name.upper()}={values.get(name)!r} is not valid: {error['msg']}. "
                f"Change or unset the environment variable {ENV_PREFIX}{name.upper()}."
            ) from None

    def sources(self, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """Where each setting's value came from: ``env`` or ``default``."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        return {name: ("env" if ENV_PREFIX + name.upper() in env else "default") for name in type(self).model_fields}


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
