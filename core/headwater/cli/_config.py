"""``headwater config``: the effective settings and where each came from."""

from __future__ import annotations

import click

from . import _output as out


@click.command(short_help="Show the effective settings and where each came from.")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as a JSON object.")
def config(as_json: bool) -> None:
    """Show the effective settings and where each came from (env or default).

    Settings are read from HEADWATER_* environment variables.
    """
    from ..settings import ENV_PREFIX, Settings

    settings = Settings.from_env()
    sources = settings.sources()
    rows = {}
    for name, description in Settings.descriptions().items():
        value = getattr(settings, name)
        source = sources[name]
        if name == "database_url" and value is None:
            value, source = settings.resolved_database_url, "derived from HEADWATER_HOME"
        elif name == "local_storage_path" and value is None:
            value, source = settings.resolved_storage_path, "derived from HEADWATER_HOME"
        rows[name] = {
            "variable": ENV_PREFIX + name.upper(),
            "value": None if value is None else (value if isinstance(value, (bool, int)) else str(value)),
            "source": source,
            "description": description,
        }
    if as_json:
        out.echo_json(rows)
        return

    def style_source(text: str, n: int) -> str:
        return click.style(text, fg="green") if text.startswith("env") else click.style(text, dim=True)

    out.table(
        ["SETTING", "VALUE", "SOURCE"],
        [[str(r["variable"]), "-" if r["value"] is None else str(r["value"]), str(r["source"])] for r in rows.values()],
        styles=[None, None, style_source], flexible=(1,),
    )
