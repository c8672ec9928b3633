"""`$batch` bodies (multipart/mixed): requests, change sets (multipart/mixed inside, all or nothing),
and the multipart answer. At most 1,000 requests a batch."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from .errors import bad_request

MAX_REQUESTS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')


@dataclass
class Part:
    """One request of a batch."""

    method: str
    path: str
    """Under /api/data/v9.2/."""
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class Group:
    """A lone request, or a change set (several, atomic)."""

    parts: list[Part] = field(default_factory=list)
    change_set: bool = False


def boundary_of(content_type: str | None) -> str:
    match = _BOUNDARY.search(content_type or "")
    if match is None or "multipart/mixed" not in (content_type or ""):
        raise bad_request("The batch request must have a multipart/mixed content type with a boundary.", "0x80048d0b")
    return match.group(1)


def _sections(raw: bytes, boundary: str) -> list[bytes]:
    text = raw.replace(b"\r\n", b"\n")
    marker = b"--" + boundary.encode()
    chunks = text.split(marker)
    sections = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        sections.append(chunk.strip(b"\n"))
    return sections


def _headers_and_rest(block: bytes) -> tuple[dict[str, str], bytes]:
    head, _, rest = block.partition(b"\n\n")
    headers = {}
    for line in head.decode("utf-8").split("\n"):
        name, _, value = line.partition(":")
        if name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _request(block: bytes, content_id: str | None) -> Part:
    line, _, rest = block.partition(b"\n")
    try:
        method, url, _ = line.decode("utf-8").split(" ", 2)
    except ValueError:
        raise bad_request(f"The batch part's request line '{line.decode(errors='replace')}' is not valid.", "0x80048d0b") from None
    headers, body = _headers_and_rest(rest)
    parts = urlsplit(url)
    path = parts.path
    marker = "/api/data/v9.2/"
    if marker in path:
        path = path.split(marker, 1)[1]
    return Part(method.upper(), path, dict(parse_qsl(parts.query, keep_blank_values=True)), headers, body.strip(b"\n"),
                content_id)


def parse(raw: bytes, content_type: str | None) -> list[Group]:
    """The batch's groups, in order; DataverseError 400 for a malformed body or more than 1,000 requests."""
    groups: list[Group] = []
    for section in _sections(raw, boundary_of(content_type)):
        headers, rest = _headers_and_rest(section)
        if "multipart/mixed" in headers.get("content-type", ""):
            group = Group(change_set=True)
            for inner in _sections(rest, boundary_of(headers["content-type"])):
                inner_headers, request = _headers_and_rest(inner)
                group.parts.append(_request(request, inner_headers.get("content-id")))
            groups.append(group)
        else:
            groups.append(Group([_request(rest, headers.get("content-id"))]))
    total = sum(len(group.parts) for group in groups)
    if total > MAX_REQUESTS:
        raise bad_request(f"The number of requests in the batch ({total}) exceeds the limit of {MAX_REQUESTS}.", "0x8006088a")
    return groups


@dataclass
class PartAnswer:
    status: int
    headers: dict[str, str]
    body: object = None
    content_id: str | None = None


def _http(answer: PartAnswer) -> str:
    reason = HTTPStatus(answer.status).phrase
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if answer.content_id:
        lines.append(f"Content-ID: {answer.content_id}")
    lines += ["", f"HTTP/1.1 {answer.status} {reason}", "OData-Version: 4.0"]
    lines += [f"{name}: {value}" for name, value in answer.headers.items()]
    if answer.body is not None:
        lines += ["Content-Type: application/json; odata.metadata=minimal; odata.streaming=true", "", json.dumps(answer.body)]
    else:
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def render(groups: list[list[PartAnswer] | PartAnswer]) -> tuple[str, bytes]:
    """(content type, body) of the batch answer: each lone answer, and each change set's answers as a
    nested multipart (a change set that failed answers with its one error alone)."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    out = []
    for group in groups:
        if isinstance(group, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            body = "".join(f"--{inner}\r\n{_http(answer)}" for answer in group) + f"--{inner}--\r\n"
            out.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}")
        else:
            out.append(f"--{boundary}\r\n{_http(group)}")
    return f"multipart/mixed; boundary={boundary}", ("".join(out) + f"--{boundary}--\r\n").encode("utf-8")
