"""`config check` beyond the schema: everything the config points at must exist and be usable."""

from __future__ import annotations

from connector.adapters.base import installed_adapters
from connector.config.loader import ConfigProblem
from connector.config.settings import Settings
from connector.jobs.custom import resolve_callable
from connector.leads.rules import SPEC_FIELDS
from connector.mapping.loader import ProfileError, load_profile


def check_references(settings: Settings) -> list[ConfigProblem]:
    """Problems with files, adapters and callables the configuration names, and inside the mapping
    profiles it names (each with file:line); empty when all is well."""
    problems: list[ConfigProblem] = []
    adapters = installed_adapters()
    for name, conn in settings.connections.items():
        if conn.adapter not in adapters:
            problems.append(
                ConfigProblem(
                    settings.locate("connections", name, "adapter"),
                    f"connections.{name}.adapter",
                    f"unknown adapter '{conn.adapter}'; installed: {', '.join(adapters) or 'none'}",
                )
            )
        mapping = settings.resolve_mapping(conn.mapping)
        if not mapping.is_file():
            problems.append(
                ConfigProblem(
                    settings.locate("connections", name, "mapping"),
                    f"connections.{name}.mapping",
                    f"mapping profile {mapping} does not exist",
                )
            )
        else:
            try:
                load_profile(mapping)
            except ProfileError as exc:
                problems += exc.problems
        if conn.auth.file is not None and not settings.resolve_path(conn.auth.file).is_file():
            problems.append(
                ConfigProblem(
                    settings.locate("connections", name, "auth", "file"),
                    f"connections.{name}.auth.file",
                    f"credentials file {settings.resolve_path(conn.auth.file)} does not exist",
                )
            )
    for index, rule in enumerate(settings.leads.rules):
        unknown = sorted(set(rule) - SPEC_FIELDS)
        if unknown or not rule.get("name"):
            problem = f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(SPEC_FIELDS))}" if unknown else "a rule needs a name"
            problems.append(ConfigProblem(settings.locate("leads", "rules", index), f"leads.rules.{index}", problem))
    for name, job in settings.jobs.items():
        try:
            resolve_callable(job.callable)
        except (ImportError, AttributeError) as exc:
            problems.append(
                ConfigProblem(settings.locate("jobs", name, "callable"), f"jobs.{name}.callable", str(exc))
            )
    return problems
