"""Seeding the partner directory from the config's `directory:` section (daemon start and
`upm-connector directory seed`): partners, then users, groups and named accounts, each created
when missing (partners and groups by name, users by email, named accounts by name). One already
there is left as it is: after seeding, the directory commands and the API own it, and a restart
never undoes their edits. Applying the same section twice writes nothing the second time. A bad
entry is reported with where it was written and the rest go on.

Replicas starting at once may seed the same entry together: it is insert-or-ignore. Both see it
missing, both add it, the datastore's unique keys (partner and group names, user emails) let one
insert through, and the other's refused insert finds the entry there: counted as already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

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
    show: str
    """The DirectoryService method finding one by its key (UnknownRecord when missing)."""
    add: str
    """The DirectoryService method adding one from its spec."""


_KINDS = (
    _Kind("partners", "name", PartnerSpec, "partner", "add_partner"),
    _Kind("users", "email", UserSpec, "user", "add_user"),
    _Kind("groups", "name", GroupSpec, "group", "add_group"),
    _Kind("named_accounts", "name", NamedAccountSpec, "named_account", "add_named_account"),
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
    if not _present(service, kind, ref):
        try:
            getattr(service, kind.add)(spec)
        except (IntegrityError, DirectoryError):
            if not _present(service, kind, ref):  # refused for another reason than a replica's insert
                raise
        else:
            report.created.append(label)
            return
    report.present += 1


def _present(service: DirectoryService, kind: _Kind, ref: str) -> bool:
    try:
        getattr(service, kind.show)(ref)
    except UnknownRecord:
        return False
    return True
