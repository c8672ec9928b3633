"""YAML read with the line of every key, so errors in admin-edited files name file:line."""

from __future__ import annotations

from dataclasses import dataclass
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


def parse_located_yaml(text: str, label: str) -> tuple[dict[str, Any], dict[KeyPath, int], list[Problem]]:
    """Parse a YAML mapping. Returns the data, the 1-based line of every key path (list items too),
    and problems that do not stop parsing (duplicate keys). Raises LocatedYamlError on bad syntax."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise LocatedYamlError(Problem(f"{label}:{line}", "", f"YAML syntax: {exc.problem}")) from None
    if root is None:
        return {}, {}, []
    if not isinstance(root, yaml.MappingNode):
        raise LocatedYamlError(Problem(f"{label}:1", "", "expected a mapping at the top level"))
    lines: dict[KeyPath, int] = {(): 1}
    problems: list[Problem] = []
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
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
        return constructor.construct_object(node, deep=True)

    return build(root, ()), lines, problems


def locate(lines: dict[KeyPath, int], path: KeyPath, label: str) -> str:
    """`label:line` of the deepest known prefix of `path`."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"{label}:{lines[path[:n]]}"
    return label
