"""`upm-connector init DIR`: a starter folder to edit, the embedded defaults' config and the shipped
mapping profiles, never over an existing file unless --force."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import click


def _shipped(root: Traversable, prefix: Path) -> dict[Path, bytes]:
    """Every file under `root` (the packaged profiles and their schema), by its path under `prefix`."""
    found: dict[Path, bytes] = {}
    for entry in root.iterdir():
        if entry.is_dir():
            found.update(_shipped(entry, prefix / entry.name))
        elif entry.name.endswith((".yaml", ".json")):
            found[prefix / entry.name] = entry.read_bytes()
    return found


def starter_files() -> dict[Path, bytes]:
    """`config.yaml` (the embedded defaults, commented) and `mappings/CRM/NAME.yaml`, as written."""
    package = files("connector")
    return {Path("config.yaml"): package.joinpath("config", "defaults.yaml").read_bytes(),
            **_shipped(package.joinpath("mappings"), Path("mappings"))}


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.pass_context
def init(ctx: click.Context, directory: Path, force: bool) -> None:
    """Write a starter config.yaml and the shipped mapping profiles into DIRECTORY to edit."""
    planned = {directory / relative: content for relative, content in starter_files().items()}
    existing = sorted(str(path) for path in planned if path.exists())
    if existing and not force:
        for path in existing:
            click.echo(f"error: {path} exists (--force overwrites it)", err=True)
        ctx.exit(2)
    for path, content in sorted(planned.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && upm-connector config check")
