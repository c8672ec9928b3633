"""Seeding the partner directory from the config's `directory:` section (daemon start and
`upm-connector directory seed`): partners, then users, groups and named accounts, each created
when missing and brought to the written values when present. Applying the same section twice writes
nothing the second time. A bad entry is reported with where it was written and the rest go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from connector.config.settings import Settings
from connector.services.directory import (DirectoryError, DirectoryService, GroupChanges, GroupSpec,
                                          NamedAccountChanges, NamedAccountSpec, PartnerChanges, PartnerSpec,
                                          UnknownRecord, UserChanges, UserSpec, parse)


@dataclass
class SeedReport:
    """What seeding did: entries created, updated (changed), unchanged, and the problems."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"directory seed: {len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged, "
                f"{len(self.problems)} problem(s)")


@dataclass(frozen=True)
class _Kind:
    section: str
    key: str
    spec: type[BaseModel]
    changes: type[BaseModel]
    show: Callable[[DirectoryService, str], BaseModel]
    add: Callable[[DirectoryService, Any], BaseModel]
    edit: Callable[[DirectoryService, str, Any], BaseModel]


_KINDS = (
    _Kind("partners", "name", PartnerSpec, PartnerChanges, DirectoryService.partner, DirectoryService.add_partner,
          DirectoryService.edit_partner),
    _Kind("users", "email", UserSpec, UserChanges, DirectoryService.user, DirectoryService.add_user,
          DirectoryService.edit_user),
    _Kind("groups", "name", GroupSpec, GroupChanges, DirectoryService.group, DirectoryService.add_group,
          DirectoryService.edit_group),
    _Kind("named_accounts", "name", NamedAccountSpec, NamedAccountChanges, DirectoryService.named_account,
          DirectoryService.add_named_account, DirectoryService.edit_named_account),
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
        before = kind.show(service, ref)
    except UnknownRecord:
        kind.add(service, spec)
        report.created.append(label)
        return
    after = kind.edit(service, ref, parse(kind.changes, entry))
    if after == before:
        report.unchanged += 1
    else:
        report.updated.append(label)
