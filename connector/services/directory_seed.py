"""Seeding the partner directory from the config's `directory:` section (daemon start and
`upm-connector directory seed`): partners, then users, groups and named accounts, each created
when missing (partners and groups by name, users by email, named accounts by name). One already
there is left as it is: after seeding, the directory commands and the API own it, and a restart
never undoes their edits. Applying the same section twice writes nothing the second time. A bad
entry is reported with where it was written and the rest go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from connector.config.settings import Settings
from connector.services.directory import (DirectoryError, DirectoryService, GroupSpec, NamedAccountSpec, PartnerSpec,
                                          UnknownRecord, UserSpec, parse)


@dataclass
class SeedReport:
    """What seeding did: entries created, entries already there (left alone), and the problems."""

    created: list[str] = field(default_factory=list)
    present: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"directory seed: {len(self.created)} created, {self.present} already there, "
                f"{len(self.problems)} problem(s)")


@dataclass(frozen=True)
class _Kind:
    section: str
    key: str
    spec: type[BaseModel]
    show: Callable[[DirectoryService, str], BaseModel]
    add: Callable[[DirectoryService, Any], BaseModel]


_KINDS = (
    _Kind("partners", "name", PartnerSpec, DirectoryService.partner, DirectoryService.add_partner),
    _Kind("users", "email", UserSpec, DirectoryService.user, DirectoryService.add_user),
    _Kind("groups", "name", GroupSpec, DirectoryService.group, DirectoryService.add_group),
    _Kind("named_accounts", "name", NamedAccountSpec, DirectoryService.named_account,
          DirectoryService.add_named_account),
)


def seed(service: DirectoryService, settings: Settings) -> SeedReport:
    """Apply `settings.directory` through the service."""
    report = SeedReport()
    section = settings.directory
    for kind in _KINDS:
        for n, entry in enumerate(getattr(section, kind.section)):
            where = f"{settings.locate('directory', kind.section, n)}: directory.{kind.section}[{n}]"
            try:
                _apply(service, kind, entry, report)
            except DirectoryError as exc:
                report.problems.append(f"{where}: {exc}")
    return report


def _apply(service: DirectoryService, kind: _Kind, entry: Any, report: SeedReport) -> None:
    spec = parse(kind.spec, entry)
    ref = str(getattr(spec, kind.key))
    label = f"{kind.section.rstrip('s').replace('_', ' ')} {ref}"
    try:
        kind.show(service, ref)
    except UnknownRecord:
        kind.add(service, spec)
        report.created.append(label)
        return
    report.present += 1
