"""``headwater plugins``: what the plugins provide, and which failed to load."""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any, Optional

import click

from . import _output as out

if TYPE_CHECKING:
    from ..plugins import Plugins


def _names(text: Optional[str]) -> Optional[set[str]]:
    return None if text is None else {n.strip() for n in text.split(",") if n.strip()}


def _load() -> Plugins:
    """The plugins as the settings select them, but never strict: a failure is listed, not raised."""
    from ..plugins import Plugins
    from ..settings import get_settings

    settings = get_settings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # failures are listed below instead
        return Plugins(allow=_names(settings.load_plugins), block=_names(settings.block_plugins) or set(), strict=False)


def _origin(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}"


def _states(types: Any) -> str:
    from ..orchestration import ANY_STATE

    if frozenset(types) == ANY_STATE:
        return "any"
    return "|".join(sorted("none" if t is None else str(t) for t in types))


def describe(plugins: Plugins) -> dict[str, Any]:
    from ..__about__ import __version__

    described = []
    for row in plugins.describe():
        if row["distribution"] == "headwater" and row["version"] is None:
            row = {**row, "version": __version__}
        described.append(row)
    from . import plugin_commands

    commands = plugin_commands(plugins)  # first: a plugin whose commands fail is listed among the failures
    return {
        "plugins": described,
        "task_runners": [{"name": n, "object": _origin(o)} for n, o in plugins.task_runners.items()],
        "stores": [{"name": n, "object": _origin(o)} for n, o in plugins.stores.items()],
        "cache_key_functions": [{"name": n, "object": _origin(o)} for n, o in plugins.cache_key_functions.items()],
        "input_hashers": [{"name": n, "object": _origin(o)} for n, o in plugins.input_hashers.items()],
        "orchestration_rules": [
            {
                "position": i,
                "name": rule.name,
                "object": _origin(type(rule)),
                "applies_to": sorted(rule.applies_to),
                "from_states": _states(rule.from_states),
                "to_states": _states(rule.to_states),
            }
            for i, rule in enumerate(plugins.policy.rules, 1)
        ],
        "commands": [
            {"name": c.name, "plugin": c.plugin, "object": _origin(getattr(c.command, "callback", None) or c.command)}
            for c in commands.values()
        ],
        "failures": [dataclasses.asdict(f) for f in plugins.failures],
    }


def describe_plugins() -> dict[str, Any]:
    """What ``headwater plugins ls --json`` prints: the plugins the settings select and what each provides."""
    return describe(_load())


@click.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def plugins_ls(as_json: bool) -> None:
    """List plugins and what they register: task runners, stores, cache-key functions,
    input hashers, orchestration rules (in policy order), and the plugins that failed to load."""
    info = describe(_load())
    if as_json:
        out.echo_json(info)
        return
    out.heading("Plugins")
    out.table(
        ["NAME", "DISTRIBUTION", "VERSION", "HOOKS"],
        [[p["name"], p["distribution"] or "-", p["version"] or "-", ", ".join(p["hooks"]) or "-"] for p in info["plugins"]],
        flexible=(3,), indent="  ",
    )
    sections = (
        ("Task runners", "task_runners"),
        ("Stores", "stores"),
        ("Cache-key functions", "cache_key_functions"),
        ("Input hashers", "input_hashers"),
    )
    for title, key in sections:
        click.echo()
        out.heading(title)
        if info[key]:
            out.table(["NAME", "OBJECT"], [[r["name"], r["object"]] for r in info[key]], flexible=(1,), indent="  ")
        else:
            click.echo("  (none)")
    click.echo()
    out.heading("Commands")
    if info["commands"]:
        out.table(["NAME", "PLUGIN", "OBJECT"], [[c["name"], c["plugin"], c["object"]] for c in info["commands"]],
                  flexible=(2,), indent="  ")
    else:
        click.echo("  (none)")
    click.echo()
    out.heading("Orchestration rules (policy order)")
    if info["orchestration_rules"]:
        out.table(
            ["#", "NAME", "RUNS", "FROM", "TO", "OBJECT"],
            [[str(r["position"]), r["name"], ",".join(r["applies_to"]), r["from_states"], r["to_states"], r["object"]]
             for r in info["orchestration_rules"]],
            flexible=(5,), indent="  ",
        )
    else:
        click.echo("  (none)")
    if info["failures"]:
        click.echo()
        out.heading(click.style("Failed to load", fg="red"))
        for f in info["failures"]:
            click.echo(f"  {click.style(f['entry_point'], bold=True)} = {f['value']}  ({f['distribution']} {f['version']})")
            click.echo(f"      {click.style(f['error'], fg='red')}")
