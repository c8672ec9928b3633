"""YAML read with the line of every key, so errors in admin-edited files name file:line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the input allows."""

    where: str  # "config.yaml:12" or "environment UPM_HTTP_BIND"
    key: str  # dotted path, e.g. connections.crm.schedule
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key or '(top level)'}: {self.message}"


class LocatedYamlError(Exception):
    """The text is not YAML of the expected shape; `problem` says where."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)


def read_yaml_text(path: Path, what: str) -> str:
    """The file's text; LocatedYamlError (with the line) when it cannot be read or is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LocatedYamlError(Problem(str(path), "", f"cannot read the {what}: {exc.strerror}")) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise LocatedYamlError(Problem(f"{path}:{line}", "", f"the {what} is not UTF-8 text (byte {raw[exc.start]:#04x})")) from None


def parse_located_yaml(text: str, label: str) -> tuple[dict[str, Any], dict[KeyPath, int], list[Problem]]:
    """Parse a YAML mapping. Returns the data, the 1-based line of every key path (list items too),
    and problems that do not stop parsing (duplicate keys). Raises LocatedYamlError for anything
    else: bad syntax, characters YAML forbids, tags the safe loader refuses, unhashable keys,
    nesting too deep."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise LocatedYamlError(_yaml_problem(exc, text, label)) from None
    except RecursionError:
        raise LocatedYamlError(Problem(f"{label}:1", "", "YAML nested too deeply")) from None
    if root is None:
        return {}, {}, []
    if not isinstance(root, yaml.MappingNode):
        raise LocatedYamlError(Problem(f"{label}:{root.start_mark.line + 1}", "", "expected a mapping at the top level"))
    lines: dict[KeyPath, int] = {(): 1}
    problems: list[Problem] = []
    constructor = yaml.SafeLoader("")

    def construct(node: yaml.Node, path: KeyPath) -> Any:
        try:
            return constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise LocatedYamlError(_yaml_problem(exc, text, label, dotted(path))) from None
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError):
            # PyYAML's constructors fail this way on a value its explicit tag cannot read
            # (`!!timestamp soon`, `!!int x`, `!!bool maybe`).
            raise LocatedYamlError(Problem(f"{label}:{node.start_mark.line + 1}", dotted(path),
                                           f"YAML value: {node.value!r} cannot be read as {node.tag}")) from None

    def build(node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = construct(key_node, path)
                line = key_node.start_mark.line + 1
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise LocatedYamlError(Problem(f"{label}:{line}", dotted(path), "a key must be a plain value, not a list or mapping"))
                if key in out:
                    problems.append(Problem(f"{label}:{line}", dotted(path + (key,)), f"duplicate key '{key}'"))
                lines[path + (key,)] = line
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                items.append(build(item, path + (index,)))
            return items
        return construct(node, path)

    try:
        return build(root, ()), lines, problems
    except RecursionError:
        raise LocatedYamlError(Problem(f"{label}:1", "", "YAML nested too deeply")) from None


def _yaml_problem(exc: yaml.YAMLError, text: str, label: str, key: str = "") -> Problem:
    """A Problem at the line PyYAML points to (a reader error gives a character offset)."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return Problem(f"{label}:{line}", key, f"YAML: character {exc.character!r} is not allowed ({exc.reason})")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        kind = "YAML syntax" if not isinstance(exc, yaml.constructor.ConstructorError) else "YAML value"
        return Problem(f"{label}:{line}", key, f"{kind}: {exc.problem or exc.context}")
    return Problem(f"{label}:1", key, f"YAML: {exc}")


def locate(lines: dict[KeyPath, int], path: KeyPath, label: str) -> str:
    """`label:line` of the deepest known prefix of `path`."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"{label}:{lines[path[:n]]}"
    return label
