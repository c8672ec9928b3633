"""The wheel ships the mapping profiles; the embedded defaults load them from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from connector.config.loader import load_settings

REPO = Path(__file__).resolve().parents[2]

LOAD_DEFAULTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import connector
from connector.config.loader import load_settings
from connector.daemon.references import check_references
from connector.mapping.loader import load_connection_profile
settings = load_settings(None)
print(json.dumps({
    "package": connector.__file__,
    "problems": [str(p) for p in check_references(settings)],
    "profiles": {name: [str(settings.resolve_mapping(c.mapping)), load_connection_profile(settings, name).profile.mode]
                 for name, c in settings.connections.items()},
}))
"""


def test_the_wheel_ships_the_profiles_and_the_defaults_load_them_outside_the_checkout(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "-w", str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True, timeout=240)
    (wheel,) = (tmp_path / "dist").glob("upm_connector-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    shipped = {f"connector/mappings/{crm}/{mode}.yaml" for crm in ("salesforce", "hubspot")
               for mode in ("basic", "advanced", "complete", "partner")}
    assert shipped <= names and "connector/config/defaults.yaml" in names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", LOAD_DEFAULTS, str(tmp_path / "site")], cwd=elsewhere, env=env,
                         check=True, capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert report["package"].startswith(str(tmp_path / "site")), "the wheel's code ran, not the checkout's"
    assert report["problems"] == []
    assert report["profiles"] == {
        "vendor-salesforce": [str(tmp_path / "site/connector/mappings/salesforce/complete.yaml"), "complete"],
        "partner-hubspot": [str(tmp_path / "site/connector/mappings/hubspot/partner.yaml"), "advanced"],
    }


def test_a_profile_beside_the_config_wins_and_a_missing_one_is_named_there(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    own = tmp_path / "mappings" / "hubspot" / "advanced.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("mine")
    config.write_text("logging: {level: INFO}\n")
    settings = load_settings(config)
    assert settings.resolve_mapping(Path("mappings/hubspot/advanced.yaml")) == own
    assert settings.resolve_mapping(Path("mappings/hubspot/basic.yaml")).parts[-4:] == (
        "connector", "mappings", "hubspot", "basic.yaml")
    assert settings.resolve_mapping(Path("mappings/hubspot/nosuch.yaml")) == tmp_path / "mappings/hubspot/nosuch.yaml"
    assert settings.resolve_mapping(Path("profiles/x.yaml")) == tmp_path / "profiles/x.yaml"
