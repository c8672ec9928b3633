"""`upm-connector mappings check`: profiles given on the command line, or every connection's,
checked against the datastore and (for connections that answer) the CRM's describe."""

from __future__ import annotations

from pathlib import Path

from connector.config.located_yaml import Problem
from connector.config.settings import Settings
from connector.mapping.loader import Describe, ProfileError, check_profile, load_profile


def check_files(settings: Settings, files: list[Path], *, offline: bool) -> tuple[list[Problem], list[str]]:
    """Problems found, and a line per profile checked (saying whether the CRM was asked)."""
    targets: list[tuple[Path, str | None]] = [(f, None) for f in files]
    if not files:
        targets = [(settings.resolve_path(c.mapping), name) for name, c in settings.connections.items()]
    problems: list[Problem] = []
    report: list[str] = []
    for path, connection in targets:
        try:
            loaded = load_profile(path)
        except ProfileError as exc:
            problems += exc.problems
            continue
        describe, note = (None, "offline") if offline or connection is None else _describer(settings, connection)
        try:
            found = check_profile(loaded, describe) if describe else []
        except Exception as exc:  # the CRM did not answer: what can be checked offline was checked at load
            found, note = [], f"not checked, {connection} unreachable ({type(exc).__name__}: {exc})"
        problems += found
        report.append(f"{path}: {'OK' if not found else f'{len(found)} problem(s)'} ({loaded.profile.crm}, {loaded.profile.mode}; CRM fields: {note})")
    return problems, report


def _describer(settings: Settings, connection: str) -> tuple[Describe | None, str]:
    """The connection's describe, or None with the reason it is not available."""
    from connector.runtime import Runtime
    from connector.store.migrate import upgrade

    try:
        runtime = Runtime(settings)
        upgrade(runtime.db)
        adapter = runtime.adapter(connection)
    except Exception as exc:  # unreachable or unauthorised: check what can be checked offline
        return None, f"not checked, {connection} unreachable ({type(exc).__name__}: {exc})"
    return adapter.describe, f"checked against {connection}"
