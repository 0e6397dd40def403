"""The documentation site: generated references cover every hook and command; the site builds strictly."""

import importlib.util
import inspect
import os
import pathlib
import re
import subprocess
import sys

import click
import pytest

from headwater import hookspecs
from headwater.cli import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_generator():
    spec = importlib.util.spec_from_file_location("headwater_docs_gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def test_hook_reference_documents_every_hook():
    page = gen.render_hooks_page()
    assert hookspecs.hook_names(), "no hooks found"
    for name in hookspecs.hook_names():
        assert f"### `{name}`" in page, f"{name} missing from the hook reference"
        assert f"def {name}(" in page
        summary = getattr(hookspecs, name).__doc__.strip().splitlines()[0]
        assert gen.rst_to_markdown(summary).strip() in page
    assert "*Not documented.*" not in page


def test_hook_reference_groups_and_converts_markup():
    page = gen.render_hooks_page()
    assert page.index("## Registration hooks") < page.index("### `register_task_runners`")
    assert page.index("## Event hooks") < page.index("### `on_flow_run_state_change`")
    assert "Register = Callable[..., None]" in page
    prose = re.sub(r"^```.*?^```", "", page, flags=re.S | re.M)  # outside code blocks
    assert "``" not in prose and ":param" not in prose and ":class:" not in prose


def test_every_hook_has_a_documented_argument_list():
    for name in hookspecs.hook_names():
        fn = getattr(hookspecs, name)
        for parameter in inspect.signature(fn).parameters:
            assert f":param {parameter}:" in (fn.__doc__ or ""), f"{name}: argument {parameter} is not documented"


def test_rst_to_markdown():
    text = (
        "Summary with ``code``.\n\n"
        ":param register: call ``register(x)`` with a\n"
        "    :class:`~headwater.stores.Store` or :func:`headwater.tasks.task`.\n"
        ":param other: the other.\n\n"
        "After."
    )
    assert gen.rst_to_markdown(text) == (
        "Summary with `code`.\n\n"
        "**Arguments**\n\n"
        "- `register`: call `register(x)` with a `headwater.stores.Store` or `headwater.tasks.task`.\n"
        "- `other`: the other.\n\n"
        "After.\n"
    )


def _command_paths(command, path):
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from _command_paths(sub, f"{path} {name}")


def test_cli_reference_shows_every_command_help():
    page = gen.render_cli_page()
    paths = list(_command_paths(cli, "headwater"))
    assert "headwater runs ls" in paths
    for path in paths:
        assert f"`{path}`\n\n```text\nUsage: {path} " in page, f"{path} missing from the CLI reference"
    assert "Exit codes:" in page
    assert "-h, --help" in page  # the commands' own context settings apply


NAV_PAGE = re.compile(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", re.M)


def test_nav_lists_every_page():
    nav = NAV_PAGE.findall((ROOT / "mkdocs.yml").read_text())
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    generated = {gen.HOOKS_PAGE, gen.CLI_PAGE}
    assert len(nav) == len(set(nav)), "a page is listed twice"
    assert set(nav) == pages | generated
    assert not pages & generated, "a generated page also exists as a file in docs/"


def test_mkdocs_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    hooks = (tmp_path / "site" / "reference" / "hooks" / "index.html").read_text()
    for name in hookspecs.hook_names():
        assert name in hooks
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
    assert not (tmp_path / "site" / "gen_reference.py").exists()
