"""The mapping profile's JSON Schema: printed by `mappings schema`, committed beside the shipped
profiles (kept current), and named by each shipped profile so editors validate it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import connector
from connector.cli import main
from connector.mapping.schema import SCHEMA_FILE, profile_schema_text

SHIPPED_DIR = Path(connector.__file__).with_name("mappings")
SHIPPED = sorted(SHIPPED_DIR.glob("*/*.yaml"))


def test_the_committed_schema_is_current() -> None:
    assert (SHIPPED_DIR / SCHEMA_FILE).read_text(encoding="utf-8") == profile_schema_text(), (
        "regenerate: upm-connector mappings schema > connector/mappings/profile.schema.json")


def test_mappings_schema_prints_the_profile_schema() -> None:
    result = CliRunner().invoke(main, ["mappings", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["mode"]["enum"] == ["basic", "advanced", "complete"]
    assert set(schema["required"]) == {"crm", "mode", "objects"} and schema["additionalProperties"] is False
    on_create = schema["$defs"]["FieldMap"]["properties"]["on_create_only"]
    assert "created" in on_create["description"], "each setting's docstring is its description"


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.name}" for p in SHIPPED])
def test_shipped_profiles_name_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../{SCHEMA_FILE}"
    assert (path.parent / ".." / SCHEMA_FILE).resolve().is_file()
