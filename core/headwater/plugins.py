"""Finding plugins and asking them what they provide.

:class:`Plugins` owns the one pluggy manager of a process and is the only code
that calls hooks. It registers the default plugins first, then each entry point
of the ``headwater`` group, each in isolation: a plugin that fails to load is
reported once, with its entry point and distribution, and everything else keeps
working. It then calls the registration hooks once and keeps what they
registered; the engines use those objects directly.

Nothing here runs at ``import headwater``: plugins load on first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import logging
import sys
import threading
import warnings
from typing import Any, Callable, Iterator, Optional

import pluggy

from . import hookspecs
from .exceptions import ConfigurationError, PluginError
from .registry import Registry

__all__ = ["Plugins", "PluginFailure", "PluginCommand", "get_plugins", "use_plugins", "DEFAULT_PLUGINS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "headwater"

# Registered first and exactly like third-party plugins; they cannot be blocked.
DEFAULT_PLUGINS = (
    "headwater.defaults.runners",
    "headwater.defaults.cache_keys",
    "headwater.defaults.rules",
    "headwater.defaults.concurrency",
)

# The distribution whose own entry points (the SQLite store) count as built in.
_OWN_DISTRIBUTION = "headwater"

logger = logging.getLogger("headwater.plugins")


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    """An entry point that could not be loaded, kept for ``headwater plugins ls``."""

    entry_point: str
    value: str
    distribution: str
    version: str
    error: str


@dataclasses.dataclass(frozen=True)
class PluginCommand:
    """A command a plugin added to the ``headwater`` command line."""

    name: str
    #: The name of the plugin that registered it (its entry point's name).
    plugin: str
    command: Any


def _split(names: Optional[str]) -> Optional[set[str]]:
    if names is None:
        return None
    return {name.strip() for name in names.split(",") if name.strip()}


class Plugins:
    """The plugin manager of a process, and what the plugins registered."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        allow: Optional[set[str]] = None,
        block: frozenset[str] | set[str] = frozenset(),
        strict: bool = False,
        trace: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self._commands: Optional[dict[str, PluginCommand]] = None
        for module_name in DEFAULT_PLUGINS:
            self.pm.register(importlib.import_module(module_name), name=module_name)
        if load_entry_points:
            self._load_entry_points(allow, set(block))
        self.pm.check_pending()
        if trace:
            self.pm.trace.root.setwriter(lambda message: logger.info("%s", message.rstrip()))
            self.pm.enable_tracing()
        self._collect()

    @classmethod
    def from_settings(cls) -> Plugins:
        from .settings import get_settings

        settings = get_settings()
        return cls(
            allow=_split(settings.load_plugins),
            block=_split(settings.block_plugins) or set(),
            strict=settings.strict_plugins,
            trace=settings.trace_plugins,
        )

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, allow: Optional[set[str]], block: set[str]) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            built_in = dist_name == _OWN_DISTRIBUTION
            if not built_in and (ep.name in block or (allow is not None and ep.name not in allow)):
                self.pm.set_blocked(ep.name)
                continue
            if self.pm.has_plugin(ep.name) or self.pm.is_blocked(ep.name):
                continue
            try:
                self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
                self._try_registrations(ep.name)
            except Exception as exc:
                if self.strict:
                    raise
                version = dist.version if dist is not None else "?"
                failure = PluginFailure(ep.name, ep.value, dist_name, version, f"{type(exc).__name__}: {exc}")
                self.failures.append(failure)
                # A plugin that was half-registered must not stay half-registered.
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                warnings.warn(
                    f"headwater plugin {ep.name!r} ({ep.value}) from distribution {dist_name} {version} "
                    f"failed to load and is skipped: {failure.error}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _try_registrations(self, name: str) -> None:
        """Call the new plugin's registration hooks alone, so that one that raises is blamed on it and skipped."""
        plugin = self.pm.get_plugin(name)
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        for hook_name, registry in self._fresh_registries().items():
            self.pm.subset_hook_caller(hook_name, remove_plugins=others)(register=registry.register)

    def register(self, plugin: Any, name: Optional[str] = None) -> str:
        """Register a plugin object at run time (tests, notebooks) and collect what it provides."""
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name or plugin!r} is blocked or already registered")
        try:
            self.pm.check_pending()
            self._collect()
        except Exception:
            self.pm.unregister(plugin)  # a refused plugin must not stay half-registered
            self._collect()
            raise
        return registered

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self._collect()

    # -- what the plugins provide --------------------------------------------------------------
    @staticmethod
    def _fresh_registries() -> dict[str, Registry[Any]]:
        """An empty registry for each registration hook, checking what is registered."""
        from .orchestration import OrchestrationRule
        from .stores import Store
        from .task_runners import TaskRunner

        def subclass_of(base: type) -> Callable[[Any], Optional[str]]:
            def check(obj: Any) -> Optional[str]:
                if isinstance(obj, type) and issubclass(obj, base):
                    return None
                return f"expected a subclass of {base.__module__}.{base.__qualname__}, got {obj!r}"

            return check

        def is_rule(obj: Any) -> Optional[str]:
            if isinstance(obj, OrchestrationRule):
                return None
            return f"expected an instance of headwater.orchestration.OrchestrationRule, got {obj!r}"

        def is_callable(obj: Any) -> Optional[str]:
            return None if callable(obj) else f"expected a function, got {obj!r}"

        return {
            "register_task_runners": Registry("task runner", "register_task_runners", subclass_of(TaskRunner)),
            "register_result_stores": Registry("store", "register_result_stores", subclass_of(Store)),
            "register_cache_key_functions": Registry("cache-key function", "register_cache_key_functions", is_callable),
            "register_input_hashers": Registry("input hasher", "register_input_hashers", is_callable),
            "register_orchestration_rules": Registry("orchestration rule", "register_orchestration_rules", is_rule),
        }

    def _collect(self) -> None:
        from .orchestration import Policy

        self._commands = None  # a plugin registered or unregistered since: ask again when needed
        registries = self._fresh_registries()
        for hook_name, registry in registries.items():
            getattr(self.pm.hook, hook_name)(register=registry.register)
        self.task_runners = registries["register_task_runners"]
        self.stores = registries["register_result_stores"]
        self.cache_key_functions = registries["register_cache_key_functions"]
        self.input_hashers = registries["register_input_hashers"]
        self.policy = Policy([rule for _, rule in registries["register_orchestration_rules"].items()])
        hook = self.pm.hook
        self.flow_state_listener = hook.on_flow_run_state_change if hook.on_flow_run_state_change.get_hookimpls() else None
        self.task_state_listener = hook.on_task_run_state_change if hook.on_task_run_state_change.get_hookimpls() else None

    # -- commands, asked for by the command line only --------------------------------------------
    def commands(self, reserved: Any = ()) -> dict[str, PluginCommand]:
        """The commands plugins add to the ``headwater`` command line, by name; collected on first call.

        Not collected with the other registries: a plugin builds its click command when asked,
        and click costs a process that only runs flows 40 ms to import. ``reserved`` holds the
        built-in commands' names, which no plugin may take. A plugin whose ``register_commands``
        fails is reported like a plugin that fails to load (raised in strict mode), and loses only
        its commands.
        """
        if self._commands is None:
            found: dict[str, PluginCommand] = {}
            hook = self.pm.hook.register_commands
            for plugin in [impl.plugin for impl in hook.get_hookimpls()]:  # the first registered keeps a name
                plugin_name = self.pm.get_name(plugin) or repr(plugin)
                mine: dict[str, PluginCommand] = {}

                def register(command: Any, name: Optional[str] = None) -> None:
                    mine_name = _command_name(command, name)
                    owner = "a built-in command" if mine_name in reserved else (
                        f"plugin {found[mine_name].plugin!r}" if mine_name in found else
                        f"plugin {plugin_name!r}" if mine_name in mine else None)
                    if owner is not None:
                        raise PluginError(
                            f"register_commands: the command name {mine_name!r} is taken by {owner} and registered "
                            f"again by plugin {plugin_name!r}. Uninstall or block one of them (HEADWATER_BLOCK_PLUGINS)."
                        )
                    mine[mine_name] = PluginCommand(mine_name, plugin_name, command)

                others = [p for p in self.pm.get_plugins() if p is not plugin]
                try:
                    self.pm.subset_hook_caller("register_commands", remove_plugins=others)(register=register)
                except Exception as exc:
                    if self.strict:
                        raise
                    self._command_failure(plugin, plugin_name, exc)
                    continue
                found.update(mine)
            self._commands = found
        return self._commands

    def _command_failure(self, plugin: Any, plugin_name: str, exc: Exception) -> None:
        dist = dict((id(p), d) for p, d in self.pm.list_plugin_distributions()).get(id(plugin))
        dist_name, version = (dist.metadata["Name"], dist.version) if dist is not None else ("unknown", "?")
        module = getattr(plugin, "__name__", repr(plugin))
        failure = PluginFailure(plugin_name, module, dist_name, version, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        warnings.warn(
            f"headwater plugin {plugin_name!r} ({module}) from distribution {dist_name} {version} "
            f"could not register its commands, which are left out: {failure.error}",
            RuntimeWarning,
            stacklevel=3,
        )

    def store_class(self, name: str) -> type[Any]:
        found = self.stores.get(name)
        if found is None:
            raise ConfigurationError(
                f"HEADWATER_STORE={name!r} names no registered store; registered: {', '.join(self.stores.names()) or 'none'}. "
                "Install the plugin that provides it, or unset HEADWATER_STORE for the default 'sqlite'."
            )
        return found

    def task_runner_class(self, name: str) -> type[Any]:
        found = self.task_runners.get(name)
        if found is None:
            raise ConfigurationError(
                f"task_runner={name!r} names no registered task runner; registered: "
                f"{', '.join(sorted(self.task_runners.names()))}. Install the plugin that provides it "
                f"(for example pip install headwater-{name}), or pass a TaskRunner instance."
            )
        return found

    def describe(self) -> list[dict[str, Any]]:
        """Each registered plugin: its name, distribution, version and the hooks it implements."""
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distributions()}
        rows = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            dist = dists.get(id(plugin))
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            distribution: Optional[str]
            version: Optional[str]
            if dist is not None:
                distribution, version = dist.metadata["Name"], dist.version
            elif name in DEFAULT_PLUGINS:
                from .__about__ import __version__

                distribution, version = _OWN_DISTRIBUTION, __version__
            else:
                distribution = version = None
            rows.append({"name": name, "distribution": distribution, "version": version, "hooks": hooks})
        return rows


def _command_name(command: Any, name: Optional[str]) -> str:
    """The name a command is registered under, after checking that it is a click command."""
    click = sys.modules.get("click")  # a plugin that built a click command has imported click
    if click is None or not isinstance(command, click.Command):
        raise PluginError(f"register_commands: expected a click.Command or click.Group, got {command!r}.")
    name = name or command.name
    if not isinstance(name, str) or not name:
        raise PluginError(f"register_commands: the command {command!r} has no name; pass register(command, name='...').")
    return name


_current: Optional[Plugins] = None
_lock = threading.Lock()


def get_plugins() -> Plugins:
    """The plugins of this process, loaded on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Plugins.from_settings()
    return _current


@contextlib.contextmanager
def use_plugins(plugins: Plugins) -> Iterator[Plugins]:
    """Use ``plugins`` instead of the process's own within the block (for tests)."""
    global _current
    previous, _current = _current, plugins
    try:
        yield plugins
    finally:
        _current = previous
