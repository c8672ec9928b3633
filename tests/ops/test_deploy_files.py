"""The shipped unit and image say what the README promises (tests/ops/test_container_image.py builds
and runs the image)."""

from __future__ import annotations

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_unit_is_notify_watched_and_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy" / "upm-connector.service")
    service = unit["Service"]
    assert (service["Type"], service["NotifyAccess"]) == ("notify", "main")
    assert int(service["WatchdogSec"]) > 0 and service["ExecStart"].endswith("upm-connector run")
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "upm-connector" and service["WorkingDirectory"] == "/var/lib/upm-connector"
    assert service["CapabilityBoundingSet"] == "" and service["User"] != "root"


def test_the_image_runs_unprivileged_and_checks_readiness() -> None:
    lines = [line.strip() for line in (REPO / "Containerfile").read_text().splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) == 2, "a build stage and a runtime stage"
    assert "USER 10001:10001" in lines
    assert any("/readyz" in line for line in lines if line.startswith("CMD")) and any(
        line.startswith("HEALTHCHECK") for line in lines)
    assert any("-c constraints.txt" in line and "[postgres]" in line for line in lines)
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "*.db", "/config.yaml", "/secrets"} <= set(ignored)
