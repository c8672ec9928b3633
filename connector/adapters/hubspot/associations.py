"""Associations between records (contact-company, deal-contact, deal-company, note-*) through the
v4 association batch endpoints, with HubSpot's default (unlabeled) association types."""

from __future__ import annotations

from collections.abc import Sequence

from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)

from connector.adapters.base import FatalError, WriteResult

from .client import HubSpotClient
from .settings import ASSOCIATION_BATCH_LIMIT, ASSOCIATION_TYPES


def association_type(from_obj: str, to_obj: str) -> int:
    """HubSpot's default association type id from one object type to another."""
    type_id = ASSOCIATION_TYPES.get((from_obj, to_obj))
    if type_id is None:
        pairs = ", ".join(f"{a}->{b}" for a, b in sorted(ASSOCIATION_TYPES))
        raise FatalError(f"no default HubSpot association from {from_obj} to {to_obj} (known: {pairs})")
    return type_id


class Associations:
    """Link records and read their links."""

    def __init__(self, client: HubSpotClient):
        self.client = client

    def associate(self, from_obj: str, from_id: str, to_obj: str, to_ids: Sequence[str]) -> list[WriteResult]:
        """Link one record to others; one result per target id, in order (linking twice is harmless)."""
        spec = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=association_type(from_obj, to_obj))
        api = self.client.api("crm.associations.v4.batch_api")
        outcomes: dict[str, WriteResult] = {}
        targets = list(dict.fromkeys(str(t) for t in to_ids))
        for start in range(0, len(targets), ASSOCIATION_BATCH_LIMIT):
            chunk = targets[start:start + ASSOCIATION_BATCH_LIMIT]
            body = BatchInputPublicAssociationMultiPost(inputs=[
                PublicAssociationMultiPost(_from=PublicObjectId(id=str(from_id)), to=PublicObjectId(id=t), types=[spec]) for t in chunk
            ])
            data, _, _ = self.client.call(api.create_with_http_info, from_obj, to_obj, body)
            for result in data.results or []:
                outcomes[str(result.to_object_id)] = WriteResult(key=str(result.to_object_id), outcome="created", crm_id=str(result.to_object_id))
            for error in getattr(data, "errors", None) or []:
                for target in (error.context or {}).get("toObjectId", []):
                    outcomes.setdefault(target, WriteResult(key=target, outcome="failed", error_code=error.category, error_message=error.message))
        return [
            outcomes.get(t) or WriteResult(key=t, outcome="failed", error_code="NO_OUTCOME", error_message="HubSpot reported no outcome", retriable=True)
            for t in (str(t) for t in to_ids)
        ]

    def read(self, from_obj: str, ids: Sequence[str], to_obj: str) -> dict[str, list[str]]:
        """The ids of `to_obj` records linked to each of `ids` (an empty list when none)."""
        api = self.client.api("crm.associations.v4.batch_api")
        linked: dict[str, list[str]] = {str(i): [] for i in ids}
        pending: dict[str, str | None] = dict.fromkeys(linked)
        while pending:
            chunk = list(pending.items())[:ASSOCIATION_BATCH_LIMIT]
            for from_id, _ in chunk:
                del pending[from_id]
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i, after=a) for i, a in chunk])
            data, _, _ = self.client.call(api.get_page_with_http_info, from_obj, to_obj, body)
            for result in data.results or []:
                from_id = str(result._from.id)
                linked.setdefault(from_id, []).extend(str(t.to_object_id) for t in result.to or [])
                if result.paging and result.paging.next and result.paging.next.after:
                    pending[from_id] = result.paging.next.after
        return linked
