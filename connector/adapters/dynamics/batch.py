"""`$batch` requests and answers (multipart/mixed, RFC 2046): each operation a lone `application/http`
part, so one failure refuses only itself (with `Prefer: odata.continue-on-error`)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    """Under /api/data/v9.2/ (query string included)."""
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Outcome:
    status: int
    headers: Mapping[str, str]
    body: Any


def encode(operations: Sequence[Operation], api_path: str) -> tuple[str, bytes]:
    """(content type, body) of a batch of `operations`."""
    boundary = f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    for number, op in enumerate(operations, start=1):
        lines += [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                  f"Content-ID: {number}", "", f"{op.method} {api_path}/{op.path} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in (op.headers or {}).items()]
        if op.body is not None:
            lines += ["Content-Type: application/json", "", json.dumps(op.body)]
        else:
            lines.append("")
    lines.append(f"--{boundary}--")
    return f"multipart/mixed; boundary={boundary}", ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _split(text: str, boundary: str) -> list[str]:
    marker = f"--{boundary}"
    parts = []
    for chunk in text.split(marker)[1:]:
        if chunk.startswith("--"):
            break
        parts.append(chunk.strip("\n"))
    return parts


def _headers(block: str) -> tuple[dict[str, str], str]:
    head, _, rest = block.partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        name, _, value = line.partition(":")
        if name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def decode(content_type: str, raw: bytes) -> list[Outcome]:
    """The answers of a batch, in order (a change set's answers in its place)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError(f"a $batch answer without a multipart boundary ({content_type!r})")
    outcomes: list[Outcome] = []
    for part in _split(raw.decode("utf-8").replace("\r\n", "\n"), match.group(1)):
        headers, rest = _headers(part)
        if "multipart/mixed" in headers.get("content-type", ""):
            outcomes += decode(headers["content-type"], rest.encode("utf-8"))
            continue
        status_line, _, rest = rest.partition("\n")
        status = int(status_line.split(" ")[1])
        inner, body = _headers(rest)
        body = body.strip()
        outcomes.append(Outcome(status, inner, json.loads(body) if body else None))
    return outcomes
