"""A requests Session that trusts a given CA bundle on every request (a session-level `verify`
loses to REQUESTS_CA_BUNDLE, psf/requests#3829)."""

from __future__ import annotations

from typing import Any

import requests


class VerifyingSession(requests.Session):
    def __init__(self, ca_file: str | None):
        super().__init__()
        self.ca_file = ca_file

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.ca_file:
            kwargs["verify"] = self.ca_file
        return super().request(method, url, *args, **kwargs)
