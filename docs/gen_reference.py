"""MkDocs hook: generate the hook reference and the CLI reference at build time.

Referenced from ``hooks:`` in ``mkdocs.yml``. ``reference/hooks.md`` is rendered
from the signatures and docstrings in ``headwater/hookspecs.py``;
``reference/cli.md`` from the ``--help`` of every ``headwater`` command. Both
pages exist only in the build (nothing is written to ``docs/``), so they can
never drift from the code. The render functions need neither MkDocs nor a
build: ``tests/test_docs_site.py`` calls them directly.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Iterator

HOOKS_PAGE = "reference/hooks.md"
CLI_PAGE = "reference/cli.md"

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_PARAM = re.compile(r"^:param (\w+):\s*(.*)$")
_SECTION = re.compile(r"^# -- (.+?) -+$")


# -- hook reference ------------------------------------------------------------------------------------


def rst_to_markdown(text: str) -> str:
    """The reST of headwater's docstrings as Markdown: literals, roles and ``:param:`` lists."""
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
    out: list[str] = []
    params: list[list[str]] = []
    in_param = False
    for line in text.splitlines():
        match = _PARAM.match(line)
        if match:
            params.append([f"- `{match.group(1)}`: {match.group(2)}"])
            in_param = True
            continue
        if in_param and line.startswith((" ", "\t")) and line.strip():
            params[-1].append(line.strip())
            continue
        if in_param:
            out.append("**Arguments**")
            out.append("")
            out.extend(" ".join(param) for param in params)
            params, in_param = [], False
        out.append(line)
    if params:
        out.extend(["**Arguments**", "", *(" ".join(param) for param in params)])
    return "\n".join(out).strip() + "\n"


def _hook_sections(module: Any) -> list[tuple[str, list[str]]]:
    """The hooks under each ``# -- section --`` comment of the module, in source order."""
    from headwater.hookspecs import hook_names

    names = hook_names()
    lines = inspect.getsource(module).splitlines()
    headings = [(number, _SECTION.match(line).group(1)) for number, line in enumerate(lines, 1) if _SECTION.match(line)]
    sections: dict[str, list[str]] = {}
    for name in names:
        first_line = getattr(module, name).__code__.co_firstlineno
        heading = "hooks"
        for number, title in headings:
            if number < first_line:
                heading = title
        sections.setdefault(heading, []).append(name)
    return list(sections.items())


def _signature(name: str, fn: Any) -> str:
    parameters = inspect.signature(fn).parameters.values()
    args = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name for p in parameters)
    return f"def {name}({args}) -> None: ..."


def _aliases(module: Any, names: list[str]) -> list[str]:
    """Module-level type aliases (``Register = Callable[..., None]``) that hook signatures use, as source text."""
    used = " ".join(str(p.annotation) for name in names for p in inspect.signature(getattr(module, name)).parameters.values())
    found = []
    for line in inspect.getsource(module).splitlines():
        match = re.match(r"^([A-Z]\w*) = (.+)$", line)
        if match and re.search(rf"\b{match.group(1)}\b", used):
            found.append(f"{match.group(1)} = {match.group(2)}")
    return found


def render_hooks_page() -> str:
    """The hook reference: the module's overview, then each hook's signature, options and docstring."""
    from headwater import hookspecs

    page = [
        "# Hook reference",
        "",
        "Generated from the docstrings in `headwater/hookspecs.py`, the one module that",
        "specifies every hook. [Writing plugins](../plugins.md) is the guide; this page",
        "is the manual.",
        "",
        rst_to_markdown(inspect.getdoc(hookspecs) or ""),
    ]
    aliases = _aliases(hookspecs, hookspecs.hook_names())
    if aliases:
        page += ["Types used in the signatures below:", "", "```python", *aliases, "```", ""]
    for title, names in _hook_sections(hookspecs):
        page += [f"## {title[:1].upper()}{title[1:]}", ""]
        for name in names:
            fn = getattr(hookspecs, name)
            options = getattr(fn, "headwater_spec", {}) or {}
            page += [f"### `{name}`", "", "```python", "@hookimpl", _signature(name, fn), "```", ""]
            notes = []
            if options.get("firstresult"):
                notes.append("*firstresult*: the first implementation that returns something other than `None` wins.")
            if options.get("historic"):
                notes.append("*historic*: a plugin registered later is called with the earlier calls too.")
            if options.get("warn_on_impl"):
                notes.append(f"*deprecated*: {options['warn_on_impl']}")
            page += [*notes, "" if notes else None, rst_to_markdown(inspect.getdoc(fn) or "*Not documented.*")]
    return "\n".join(line for line in page if line is not None)


# -- CLI reference --------------------------------------------------------------------------------------


def _context(command: Any, name: str, parent: Any = None) -> Any:
    # make_context applies the command's context_settings (such as -h for help), as the real command line does.
    return command.make_context(name, [], parent=parent, resilient_parsing=True, terminal_width=88, max_content_width=88)


def _commands(command: Any, ctx: Any) -> Iterator[tuple[str, Any, Any]]:
    import click

    yield ctx.command_path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            yield from _commands(sub, _context(sub, name, ctx))


def render_cli_page() -> str:
    """The CLI reference: every command's ``--help``, as the terminal shows it."""
    from headwater.cli import cli

    root = _context(cli, "headwater")
    page = [
        "# Command-line reference",
        "",
        "Generated from the commands themselves: each section is that command's `--help`.",
        "[Command line](../cli.md) is the overview, with examples.",
        "",
    ]
    for path, command, ctx in _commands(cli, root):
        depth = min(path.count(" ") + 1, 4)
        page += [f"{'#' * (depth + 1)} `{path}`", "", "```text", command.get_help(ctx), "```", ""]
    return "\n".join(page)


# -- MkDocs event --------------------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the build."""
    from mkdocs.structure.files import File

    for path, render in ((HOOKS_PAGE, render_hooks_page), (CLI_PAGE, render_cli_page)):
        existing = files.get_file_from_path(path)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, path, content=render()))
    return files


if __name__ == "__main__":  # python docs/gen_reference.py: print both pages
    print(render_hooks_page())
    print(render_cli_page())
