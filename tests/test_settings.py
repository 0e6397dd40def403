"""Settings come from HEADWATER_* variables: each is parsed, and a bad one is named with what it must be."""

from pathlib import Path

import pytest

from headwater.exceptions import ConfigurationError
from headwater.settings import Settings


def test_defaults_without_any_variable():
    settings = Settings.from_env({})
    assert settings.home == Path.home() / ".headwater"
    assert settings.resolved_database_url == f"sqlite:///{Path.home() / '.headwater' / 'headwater.db'}"
    assert settings.resolved_storage_path == Path.home() / ".headwater" / "storage"
    assert (settings.logging_level, settings.store, settings.progress) == ("INFO", "sqlite", "auto")
    assert settings.store_writer == "process"
    assert (settings.load_plugins, settings.block_plugins, settings.strict_plugins, settings.trace_plugins) == (None, "", False, False)
    assert set(settings.sources({}).values()) == {"default"}


def test_each_variable_is_parsed():
    env = {
        "HEADWATER_HOME": "~/hw",
        "HEADWATER_DATABASE_URL": "sqlite:////tmp/x.db",
        "HEADWATER_LOCAL_STORAGE_PATH": "~/payloads",
        "HEADWATER_LOGGING_LEVEL": " debug",
        "HEADWATER_LOGGING_LOG_PRINTS": "on",
        "HEADWATER_RESULTS_PERSIST_BY_DEFAULT": "1",
        "HEADWATER_RESULTS_DEFAULT_SERIALIZER": " compressed/json",
        "HEADWATER_LOGGING_EXTRA_LOGGERS": "dask,urllib3",
        "HEADWATER_STORE": "mine",
        "HEADWATER_STORE_WRITER": " Thread",
        "HEADWATER_STORE_DURABILITY": "Strict ",
        "HEADWATER_LOAD_PLUGINS": "",
        "HEADWATER_BLOCK_PLUGINS": "ray,dask",
        "HEADWATER_STRICT_PLUGINS": "Yes",
        "HEADWATER_TRACE_PLUGINS": "0",
        "HEADWATER_PROGRESS": "OFF",
        "HEADWATER_HEARTBEAT_INTERVAL": "0.5",
        "HEADWATER_HEARTBEAT_TIMEOUT": " 30 ",
        "HEADWATER_TASK_DEFAULT_RETRIES": " 3",
        "HEADWATER_TASK_DEFAULT_RETRY_DELAY_SECONDS": "1, 10,60",
        "HEADWATER_FLOW_DEFAULT_RETRIES": "1",
        "HEADWATER_FLOW_DEFAULT_RETRY_DELAY_SECONDS": "2.5",
        "HEADWATER_TASKS_REFRESH_CACHE": "true",
        "OTHER": "ignored",
    }
    settings = Settings.from_env(env)
    assert settings.home == Path.home() / "hw"  # ~ expanded
    assert settings.local_storage_path == Path.home() / "payloads"
    assert settings.resolved_database_url == "sqlite:////tmp/x.db"
    assert settings.logging_level == "DEBUG" and settings.logging_log_prints is True
    assert settings.logging_extra_loggers == "dask,urllib3"
    assert (settings.results_persist_by_default, settings.results_default_serializer) == (True, "compressed/json")
    assert (settings.store, settings.load_plugins, settings.block_plugins) == ("mine", "", "ray,dask")
    assert (settings.store_writer, settings.store_durability) == ("thread", "strict")
    assert (settings.strict_plugins, settings.trace_plugins, settings.progress) == (True, False, "off")
    assert (settings.heartbeat_interval, settings.heartbeat_timeout) == (0.5, 30.0)
    assert (settings.task_default_retries, settings.task_default_retry_delay_seconds) == (3, [1.0, 10.0, 60.0])
    assert (settings.flow_default_retries, settings.flow_default_retry_delay_seconds) == (1, 2.5)
    assert settings.tasks_refresh_cache is True
    assert set(settings.sources(env).values()) == {"env"}


@pytest.mark.parametrize("text", ["1", "true", "T", "yes", "y", "on", " ON "])
def test_true_booleans(text):
    assert Settings.from_env({"HEADWATER_STRICT_PLUGINS": text}).strict_plugins is True


@pytest.mark.parametrize("text", ["0", "false", "F", "no", "n", "off"])
def test_false_booleans(text):
    assert Settings.from_env({"HEADWATER_STRICT_PLUGINS": text}).strict_plugins is False


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("HEADWATER_STRICT_PLUGINS", "maybe", "must be a boolean: 1, true, yes or on; 0, false, no or off"),
        ("HEADWATER_LOGGING_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("HEADWATER_PROGRESS", "sometimes", "must be one of auto, on, off"),
        ("HEADWATER_STORE_WRITER", "disk", "must be one of process, thread"),
        ("HEADWATER_STORE_DURABILITY", "paranoid", "must be one of batched, strict"),
        ("HEADWATER_HEARTBEAT_INTERVAL", "often", "must be a number of seconds, such as 10 or 0.5"),
        ("HEADWATER_HEARTBEAT_TIMEOUT", "0", "must be a number of seconds above 0"),
        ("HEADWATER_HEARTBEAT_TIMEOUT", "nan", "must be a number of seconds above 0"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_it_must_be(variable, value, says):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value) == (
        f"Setting {variable}={value!r} is not valid: it {says}. Change or unset the environment variable {variable}."
    )


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.home = Path("/elsewhere")  # type: ignore[misc]


def test_every_setting_is_described_in_order():
    descriptions = Settings.descriptions()
    assert list(descriptions) == [
        "home", "database_url", "local_storage_path", "results_persist_by_default", "results_default_serializer", "logging_level", "logging_log_prints", "logging_extra_loggers", "store", "store_writer", "store_durability",
        "heartbeat_interval", "heartbeat_timeout",
        "task_default_retries", "task_default_retry_delay_seconds", "flow_default_retries", "flow_default_retry_delay_seconds", "tasks_refresh_cache",
        "load_plugins", "block_plugins", "strict_plugins", "trace_plugins", "progress",
    ]
    assert all(text.endswith(".") for text in descriptions.values())
