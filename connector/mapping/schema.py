"""The JSON Schema of a mapping profile, from the `Profile` model: what editors validate against
(`connector/mappings/profile.schema.json`, printed by `upm-connector mappings schema`)."""

from __future__ import annotations

import json
from typing import Any

from connector.mapping.profile import Profile

SCHEMA_FILE = "profile.schema.json"
"""Its name beside the shipped profiles' folders (`# yaml-language-server: $schema=../profile.schema.json`)."""


def profile_schema() -> dict[str, Any]:
    """The profile's JSON Schema (draft 2020-12), with each setting's docstring as its description."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **Profile.model_json_schema()}


def profile_schema_text() -> str:
    """The schema as the committed file holds it: indented JSON, one trailing newline."""
    return json.dumps(profile_schema(), indent=2) + "\n"
