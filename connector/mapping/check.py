"""`upm-connector mappings check`: profiles given on the command line, or every connection's,
checked against the datastore and the CRM's describe: the live one when the connection answers
(then cached), else (or with `--offline`) the one cached last time, saying how old it is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from connector.config.located_yaml import Problem
from connector.config.settings import Settings
from connector.mapping.describe_cache import DescribeCache, Recording
from connector.mapping.loader import Describe, LoadedProfile, ProfileError, check_profile, load_profile

Describer = Callable[[str], tuple[Describe | None, str]]
"""A connection's describe and a note saying so, or None and why it is not available."""


def check_files(settings: Settings, files: list[Path], *, offline: bool, describer: Describer,
                cache: DescribeCache | None = None, now: datetime | None = None) -> tuple[list[Problem], list[str]]:
    """Problems found, and a line per profile checked (saying whether the CRM was asked through
    `describer`, or its describe read from `cache`, and how old that is, at `now`)."""
    targets: list[tuple[Path, str | None]] = [(f, None) for f in files]
    if not files:
        targets = [(settings.resolve_mapping(c.mapping), name) for name, c in settings.connections.items()]
    problems: list[Problem] = []
    report: list[str] = []
    for path, connection in targets:
        try:
            loaded = load_profile(path)
        except ProfileError as exc:
            problems += exc.problems
            continue
        found, note = ([], "offline") if connection is None else _against_crm(loaded, connection, offline, describer,
                                                                              cache, now)
        problems += found
        report.append(f"{path}: {'OK' if not found else f'{len(found)} problem(s)'} ({loaded.profile.crm}, {loaded.profile.mode}; CRM fields: {note})")
    return problems, report


def _against_crm(loaded: LoadedProfile, connection: str, offline: bool, describer: Describer,
                 cache: DescribeCache | None, now: datetime | None) -> tuple[list[Problem], str]:
    """The profile checked against the live describe (cached afterwards), else the cached one."""
    why = "offline"
    if not offline:
        describe, note = describer(connection)
        if describe is None:
            why = note
        else:
            recording = Recording(describe)
            try:
                found = check_profile(loaded, recording)
            except Exception as exc:  # the CRM stopped answering: what can be checked offline was checked at load
                why = f"{connection} unreachable ({type(exc).__name__}: {exc})"
            else:
                if cache is not None and now is not None:
                    cache.save(connection, loaded.profile.crm, recording.seen, now)
                return found, note
    cached = cache.load(connection) if cache is not None else None
    if cached is None or cached.crm != loaded.profile.crm or now is None:
        return [], why if offline else f"not checked, {why}"
    try:
        found = check_profile(loaded, cached.describe)
    except KeyError as exc:
        return [], f"not checked, {why}; {exc.args[0]}"
    return found, f"checked against the describe of {connection} cached {cached.age(now)} ago ({cached.read_at.isoformat()}); {why}"
