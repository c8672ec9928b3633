"""The shape of a mapping profile. Data an admin understands; the behaviour lives in Python."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.adapters.base import installed_adapters

Direction = Literal["to_upm", "to_crm", "both"]
Mode = Literal["basic", "advanced", "complete"]

TRANSFORMS = ("trim", "lower", "upper", "full_name", "date", "datetime", "none_if_empty")
"""Named transforms a field may list (see transforms.py)."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FieldMap(_Data):
    """One UPM field <-> one CRM field (or two UPM fields <-> one CRM field with `full_name`)."""

    upm: str | list[str] | None = None
    """UPM field; a list of two ([first_name, last_name]) with the `full_name` transform."""
    crm: str | None = None
    direction: Direction | None = None
    """Which way values flow; default: the object's direction."""
    values: dict[str, Any] | None = None
    """CRM value -> UPM value ("United States": USA, "Closed Won": 10). Reversed for writes to the CRM."""
    strict_values: bool = False
    """An unmapped value is an error for the record (else it passes through unchanged)."""
    transform: list[str] = Field(default_factory=list)
    date_format: str | None = None
    """strftime format of a CRM text date (with the `date`/`datetime` transforms)."""
    default: Any = None
    """Used when the source value is empty."""
    constant: Any = None
    """A fixed value written to the target side, whatever the source says (`crm` or `upm` only)."""
    on_create_only: bool = False
    """Written to the CRM when the record is created there, never on updates."""
    required: bool = False
    """A record whose value is empty after mapping fails (goes to failed records)."""
    relation: str | None = None
    """The UPM module this field points at: values are record ids in UPM and CRM ids in the CRM,
    translated through bindings."""
    relation_from: str | None = None
    """A polymorphic relation (to_crm): the UPM field naming the module the id points at (a note's
    `record_module`), used instead of a fixed `relation`."""
    link: bool = False
    """HubSpot: the related record is linked by a v4 association, not by a property; `crm` is then
    left out. To the CRM the association is made after the write; to UPM (`direction: to_upm`) the
    record's associations with the relation's CRM object are read, and the first associated record
    bound as that module is taken (a deal's contacts: the lead it came from)."""

    @property
    def link_key(self) -> str:
        """Where a pull puts a link's associated CRM id among the record's fields (no CRM property)."""
        return f"@link:{self.relation}"

    @property
    def parent_field(self) -> bool:
        """A field of a related record (`Account.Name`, `Owner.Email`): the CRM reads it, never writes it."""
        return self.crm is not None and "." in self.crm

    def flow(self, object_direction: Direction) -> Direction:
        """The way this field's values flow: its own direction, else the object's (a parent field: to_upm)."""
        if self.direction is not None:
            return self.direction
        return "to_upm" if self.parent_field else object_direction

    @field_validator("transform")
    @classmethod
    def _known_transforms(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown transform(s) {', '.join(unknown)}; known: {', '.join(TRANSFORMS)}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> FieldMap:
        if self.upm is None and self.crm is None:
            raise ValueError("a field needs 'upm', 'crm' or both")
        if self.constant is not None and self.upm is not None and self.crm is not None:
            raise ValueError("a constant names only its target side: 'crm' (written to the CRM) or 'upm'")
        if self.link:
            if self.upm is None or self.crm is not None or not (self.relation or self.relation_from):
                raise ValueError("a link names 'upm' and 'relation' (or 'relation_from'), and no 'crm'")
        elif self.constant is None and (self.upm is None or self.crm is None):
            raise ValueError("a field without a constant needs both 'upm' and 'crm'")
        if self.relation and self.relation_from:
            raise ValueError("a field has 'relation' or 'relation_from', not both")
        if isinstance(self.upm, list) and (len(self.upm) != 2 or "full_name" not in self.transform):
            raise ValueError("a list of UPM fields must be two ([first, last]) with transform full_name")
        return self

    @property
    def through(self) -> bool:
        """Read through a relation (`contact.email`): read-only, from the related record."""
        return any("." in name for name in self.upm_fields)

    @property
    def upm_fields(self) -> list[str]:
        if self.upm is None:
            return []
        return list(self.upm) if isinstance(self.upm, list) else [self.upm]


class KeySpec(_Data):
    crm: str
    """The CRM external-id field (Salesforce `UPM_Id__c`, HubSpot `idProperty` such as `upm_id`)."""
    prefix: str = ""
    """Written before the UPM id in the external id (e.g. `upm-opportunity-`), so ids of several
    modules sharing one CRM object never collide."""


class ModifiedSpec(_Data):
    crm: str
    """The CRM's modified stamp (Salesforce SystemModstamp, HubSpot hs_lastmodifieddate)."""
    upm: str = "updated_at"


class Writeback(_Data):
    """Vendor CRM: the CRM fields on a lead (the `prospect` object) that receive its fate in UPM,
    written through the outbox whenever it changes. Each is optional: a field left out is not written."""

    status: str | None = None
    """The assignment status: Unassigned, Pending, Accepted, Rejected, Pulled back or Converted."""
    partner_account: str | None = None
    """The name of the partner account holding the lead (empty when none does)."""
    rep: str | None = None
    """The email of the partner rep holding it (empty when no rep was named)."""
    status_date: str | None = None
    """When the status last changed (ISO 8601, UTC)."""
    assigned_at: str | None = None
    """When the lead was given to its holder."""
    accepted_at: str | None = None
    """When the holder accepted (or claimed) it."""
    opportunity_id: str | None = None
    """The UPM id of the opportunity that came of the lead (the partner's deal linked to it; the
    newest when there are several)."""
    opportunity_name: str | None = None
    """That opportunity's name."""
    opportunity_amount: str | None = None
    """Its amount."""
    opportunity_stage: str | None = None
    """Its sales stage (UPM's number, 1 to 12)."""

    def fields(self) -> dict[str, str]:
        """{writeback item: CRM field} for the items named."""
        return {name: crm for name in ("status", "partner_account", "rep", "status_date", "assigned_at", "accepted_at",
                                       "opportunity_id", "opportunity_name", "opportunity_amount", "opportunity_stage")
                if (crm := getattr(self, name)) is not None}


class OwnerSpec(_Data):
    """A partner's CRM: the field holding a lead's owner, set to the CRM user whose email is the
    email of the partner rep holding the lead (HubSpot owners, Salesforce users)."""

    crm: str
    """HubSpot `hubspot_owner_id`, Salesforce `OwnerId`."""


class ObjectMap(_Data):
    """One UPM module <-> one CRM object."""

    module: str
    """UPM module key: prospect, company, contact, account, opportunity, registered_deal, note, task, campaign."""
    crm_object: str
    key: KeySpec
    modified: ModifiedSpec
    direction: Direction = "both"
    on_delete: Literal["archive", "ignore"] = "archive"
    """What a CRM delete does to the UPM record: archive it (default) or leave it."""
    distribute: Literal["none", "named_or_open"] = "none"
    """complete mode: hand new records to lead distribution as named or open accounts."""
    writeback: Writeback | None = None
    """prospect: the CRM lead's fields that receive its assignment status, partner, rep and dates."""
    owner: OwnerSpec | None = None
    """prospect, in a partner's CRM: the lead is owned there by the rep holding it (by email)."""
    fields: list[FieldMap]

    @model_validator(mode="after")
    def _lead_only(self) -> ObjectMap:
        for key in ("writeback", "owner"):
            if getattr(self, key) is not None and self.module != "prospect":
                raise ValueError(f"{key} is for the prospect object (a lead), not {self.module}")
        return self


class Profile(_Data):
    """A mapping profile: one CRM, one mode, the objects to sync in dependency order."""

    crm: str
    """The adapter this profile is written for: a name in the `upm_connector.adapters` entry points."""
    mode: Mode
    description: str | None = None
    lookback_seconds: float = Field(default=300, ge=0)
    """The cursor never passes a run's start minus this: late commits and equal stamps are read again."""
    clock_skew_seconds: float = Field(default=2, ge=0)
    """advanced mode: stamps closer than this count as simultaneous; the CRM wins ties."""
    deletes_every_seconds: float = Field(default=900, ge=0)
    """How often the daemon's lane reads the CRM's delete log (one call per object); the cycles in
    between read changes only. `sync` and `resync` always read it. 0: every cycle."""
    objects: list[ObjectMap]

    @field_validator("crm")
    @classmethod
    def _installed_crm(cls, value: str) -> str:
        installed = installed_adapters()
        if value not in installed:
            raise ValueError(f"unknown CRM '{value}'; installed adapters: {', '.join(installed) or 'none'}")
        return value

    def object_for(self, module: str) -> ObjectMap | None:
        return next((o for o in self.objects if o.module == module), None)
