"""Reproducible installs: both scripts install with constraints.txt; a SQLite user gets no psycopg."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            found[canonicalize_name(name)] = version.strip()
    return found


def test_both_scripts_install_with_the_lock_file() -> None:
    for script, extras in (("start", r'"\.\[\$extras\]"'), ("test", r"'\.\[test\]'")):
        text = (REPO / "scripts" / script).read_text()
        assert re.search(rf"pip install .*-c constraints\.txt -e {extras}", text), f"scripts/{script} ignores the lock"
    assert "extras=emulators" in (REPO / "scripts" / "start").read_text()


def test_the_lock_pins_every_dependency_of_every_extra_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = pins()
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for req in wanted:
        if canonicalize_name(req.name) == "upm-connector":
            continue
        version = locked.get(canonicalize_name(req.name))
        assert version is not None, f"{req.name} is not in constraints.txt: run scripts/lock"
        assert req.specifier.contains(version, prereleases=True), f"{req} but the lock pins {version}"


def test_the_emulators_extra_resolves_to_the_pins_without_psycopg(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--dry-run",
         "--ignore-installed", "--report", str(report), "-c", "constraints.txt", ".[emulators]"],
        cwd=REPO, check=True, capture_output=True, timeout=240,
    )
    chosen = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
              for item in json.loads(report.read_text())["install"]}
    locked = pins()
    assert "trustme" in chosen and "psycopg" not in chosen and "psycopg-binary" not in chosen
    assert "pytest" not in chosen, "test tools stay in the test extra"
    assert {name: v for name, v in chosen.items() if name != "upm-connector"} == {
        name: locked[name] for name in chosen if name != "upm-connector"}


def test_the_environment_the_suite_runs_in_holds_the_locked_versions() -> None:
    """scripts/test installed this environment: every locked package in it is at its pin."""
    locked = pins()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    test_extra = {canonicalize_name(Requirement(r).name) for r in tomllib.loads(
        (REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]}
    assert test_extra - {"upm-connector"} <= installed.keys(), "the test extra is installed"
    drifted = {name: (version, locked[name]) for name, version in installed.items()
               if name in locked and version != locked[name]}
    assert drifted == {}, f"installed (version, pin) off the lock: {drifted}"
