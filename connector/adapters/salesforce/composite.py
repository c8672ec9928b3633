"""/composite: subrequests packed five to a call (Salesforce's cap on sObject Collections and query
subrequests per request), each call counting as ONE API call whatever it carries.

simple-salesforce has no wrapper for it: `sf.restful("composite", method="POST", json=...)`.
Subrequests run independently (`allOrNone` false); each answers its own status and body.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce

from connector.adapters.base import AdapterError

from .client import SalesforceClient
from .errors import from_answer
from .settings import COMPOSITE_COLLECTIONS


@dataclass(frozen=True)
class Subrequest:
    """One REST call inside a /composite request; `path` is below `/services/data/vXX.X/`."""

    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class SubAnswer:
    """A subrequest's HTTP status and body."""

    status: int
    body: Any

    @property
    def error(self) -> AdapterError | None:
        """The classified error when the subrequest failed as a whole."""
        return from_answer(self.status, self.body) if self.status >= 300 else None


class Composite:
    """Sends subrequests through /composite, five per API call, answers in order."""

    def __init__(self, client: SalesforceClient):
        self.client = client

    def run(self, subrequests: Sequence[Subrequest]) -> Iterator[SubAnswer]:
        """The answers, one per subrequest in order; a call goes out as its first answer is wanted."""
        for start in range(0, len(subrequests), COMPOSITE_COLLECTIONS):
            body = self._request(subrequests[start:start + COMPOSITE_COLLECTIONS])

            def send(sf: Salesforce, body: dict[str, Any] = body) -> Any:
                return sf.restful("composite", method="POST", json=body)

            answer = self.client.call(send)
            for entry in answer["compositeResponse"]:
                yield SubAnswer(int(entry["httpStatusCode"]), entry.get("body"))

    def _request(self, pack: Sequence[Subrequest]) -> dict[str, Any]:
        entries = []
        for number, sub in enumerate(pack):
            entry: dict[str, Any] = {
                "method": sub.method,
                "url": f"/services/data/v{self.client.version}/{sub.path}",
                "referenceId": f"sub{number}",
            }
            if sub.body is not None:
                entry["body"] = sub.body
            entries.append(entry)
        return {"allOrNone": False, "compositeRequest": entries}
