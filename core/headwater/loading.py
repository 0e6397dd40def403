"""Finding a flow from the command line: ``path/to/file.py:my_flow`` or ``package.module:my_flow``,
and turning ``--param key=value`` words into the flow's parameters."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .exceptions import ConfigurationError, ParameterError

if TYPE_CHECKING:
    from .flows import Flow

__all__ = ["load_flow", "parse_parameters"]


def load_flow(entrypoint: str) -> Flow:
    """The flow ``entrypoint`` names; an error saying what was wrong and what to give otherwise."""
    from .flows import Flow

    where, sep, name = entrypoint.rpartition(":")
    if not sep or not where or not name:
        raise ConfigurationError(
            f"{entrypoint!r} names no flow: give FILE.py:FLOW (such as flows/etl.py:nightly) or package.module:FLOW."
        )
    module = _import_file(where) if where.endswith(".py") or os.sep in where or "/" in where else _import_module(where)
    found = getattr(module, name, None)
    if not isinstance(found, Flow):
        flows = sorted(attr for attr, value in vars(module).items() if isinstance(value, Flow))
        listed = ", ".join(flows) if flows else "none"
        what = "is not a flow" if found is not None else "is not defined there"
        raise ConfigurationError(f"{name!r} in {where} {what}; the flows it defines: {listed}.")
    return found


def _import_file(path_text: str) -> Any:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise ConfigurationError(f"There is no file {path_text!r} (looked for {path}).")
    # Named after the file, as if imported from its folder: its tasks keep one identity (and cache
    # keys) from run to run, and a child process that unpickles them finds the module again.
    module_name = path.stem
    existing = sys.modules.get(module_name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _import_module(name: str) -> Any:
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: a package in the current folder
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ConfigurationError(f"There is no module {name!r} to import ({exc}).") from None
        raise


def parse_parameters(flow: Flow, words: Iterable[str]) -> dict[str, Any]:
    """``key=value`` words as the flow's parameters: each value read as JSON when it is JSON, else as
    text; then checked against the flow's signature and type hints (an error names the parameter)."""
    given: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise ParameterError(f"--param {word!r} is not KEY=VALUE, such as --param n=3 or --param 'names=[\"a\", \"b\"]'.")
        texts[key] = text
        try:
            given[key] = json.loads(text)
        except ValueError:
            given[key] = text
    parameters = flow.bind((), given)
    adapters = flow._parameter_adapters() if flow.validate_parameters else {}
    for key, text in texts.items():
        if key in adapters and given[key] != text:
            # "123" for a str parameter is the text, not the number JSON reads it as.
            adapter, _ = adapters[key]
            try:
                adapter.validate_python(given[key])
            except Exception:
                parameters[key] = text
    return flow.validate(parameters)
