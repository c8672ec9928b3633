"""The records API (/api/v1/{module}): create, read, update, archive and list every UPM record kind,
the conversions (prospect -> contact, Closed Won opportunity -> registered deal), and lead activity.

One router is generated from the kinds table (connector/services/kinds.py); request and response
models are generated from each kind's columns, so lengths, ranges and money precision are checked
before the service sees a value. Every route is a thin call into RecordService.

| route | what |
|---|---|
| POST   /api/v1/{module} | create (201, ETag) |
| GET    /api/v1/{module} | list, newest first: ?status= &partner= &updated_since= &q= &limit= &cursor= |
| GET    /api/v1/{module}/{id} | one record (ETag) |
| PATCH  /api/v1/{module}/{id} | update (If-Match required: 428 without, 409 on another version) |
| DELETE /api/v1/{module}/{id} | archive (If-Match as PATCH) |
| POST   /api/v1/{module}/{id}/activities | log a call, email, meeting or note |
| POST   /api/v1/prospects/{id}/convert | prospect -> contact (new or existing account) |
| POST   /api/v1/prospects/{id}/status | the lead's status, with its history |
| POST   /api/v1/opportunities/{id}/register | Closed Won opportunity -> registered deal |
"""

# No `from __future__ import annotations`: the generated routes' annotations name local classes.

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Optional

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import JSON, Boolean, Date, Integer, Numeric, String
from sqlalchemy.exc import DataError, IntegrityError

from connector.api.auth import Authenticator, Caller
from connector.services.errors import Invalid, PreconditionRequired, VersionMismatch
from connector.services.kinds import KINDS, LINE_ITEM_FIELDS, Kind
from connector.services.records import Actor, Filters, RecordService, View
from connector.store.base import UTCDateTime
from connector.store.records import APPROVAL_STATUSES, CURRENCIES

INT32 = 2**31 - 1
INT64 = 2**63 - 1
ACTIVITY_KINDS = ("prospects", "contacts", "accounts", "opportunities", "deals")


class ErrorOut(BaseModel):
    """A refusal: what kind (`error`) and why (`detail`)."""

    error: str = Field(examples=["NotFound"])
    detail: str = Field(examples=["no opportunity 42"])


class FieldError(BaseModel):
    field: str = Field(examples=["line_items.0.sales_price"])
    value: Any = Field(default=None, examples=["-5"])
    message: str = Field(examples=["Input should be greater than or equal to 0"])


class InvalidOut(BaseModel):
    """A request that cannot be right: each field, the value given and why."""

    error: Literal["invalid"] = "invalid"
    detail: list[FieldError]


class VersionOut(ErrorOut):
    current_version: str = Field(description="the record's version now (its ETag)")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no key, or a key that is not known"},
    403: {"model": ErrorOut, "description": "not allowed: read-only access, or a kind that is the vendor's"},
    404: {"model": ErrorOut, "description": "no such record (or not one this key sees)"},
    422: {"model": InvalidOut, "description": "a field's value cannot be right"},
}
EDIT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": VersionOut, "description": "the record changed since the version in If-Match"},
    428: {"model": ErrorOut, "description": "no If-Match: send the ETag you read"},
}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 409: {"model": ErrorOut, "description": "the record is not in a state for this"},
}


def _type_of(kind: Kind, name: str) -> tuple[Any, dict[str, Any]]:
    """The Python type and pydantic constraints of one column."""
    column = kind.column(name)
    sql = column.type
    if name == "sales_stage":
        return int, {"ge": 1, "le": 12}
    if name == "currency":
        return Literal[CURRENCIES], {}  # type: ignore[valid-type]
    if name == "approval_status":
        return Literal[APPROVAL_STATUSES], {}  # type: ignore[valid-type]
    if column.foreign_keys or name == "record_id":
        return int, {"ge": 1, "le": INT64}
    if isinstance(sql, Boolean):
        return bool, {}
    if isinstance(sql, Integer):
        return int, {"ge": -INT32 - 1, "le": INT32}
    if isinstance(sql, Numeric):
        return Decimal, {"max_digits": sql.precision, "decimal_places": sql.scale}
    if isinstance(sql, UTCDateTime):
        return datetime, {}
    if isinstance(sql, Date):
        return date, {}
    if isinstance(sql, JSON):
        return Any, {}
    if isinstance(sql, String) and sql.length:
        return str, {"max_length": sql.length}
    return str, {"max_length": 100_000}


class LineItemIn(BaseModel):
    """A product on an opportunity; total, net and the opportunity's amount are computed."""

    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=255)
    sku: Optional[str] = Field(default=None, max_length=80)
    sales_price: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    quantity: Decimal = Field(default=Decimal("1"), gt=0, max_digits=8, decimal_places=2)
    discount: Decimal = Field(default=Decimal("0"), ge=0, le=100, max_digits=5, decimal_places=2)


class LineItemOut(BaseModel):
    id: int
    product: str
    sku: Optional[str]
    sales_price: Decimal
    quantity: Decimal
    discount: Decimal
    total: Decimal
    net: Decimal


def _models(kind: Kind) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """The kind's create body, update body and response."""
    strict = ConfigDict(extra="forbid")
    create: dict[str, Any] = {}
    update: dict[str, Any] = {}
    for name in kind.fields:
        python, limits = _type_of(kind, name)
        required = name in kind.required
        create[name] = (python if required else Optional[python], Field(... if required else None, **limits))
        update[name] = (Optional[python], Field(None, **limits))
    out: dict[str, Any] = {}
    for column in kind.model.__table__.c:  # type: ignore[attr-defined]
        if column.name not in kind.hidden:
            out[column.name] = (Optional[_type_of(kind, column.name)[0]], None)
    out["version"] = (str, Field(description="the record's version: its ETag, for If-Match"))
    out["access_type"] = (Optional[str], Field(None, description="a partner user's access: Read-Write or Read-Only"))
    if kind.name == "opportunities":
        create["line_items"] = (list[LineItemIn], Field(default_factory=list, max_length=500))
        update["line_items"] = (Optional[list[LineItemIn]], Field(None, max_length=500,
                                                                  description="replaces every line item"))
        out["line_items"] = (list[LineItemOut], ...)
    if kind.name == "deals":
        for name, python in (("contact_id", int), ("campaign_id", int), ("offer_id", str), ("tactic_id", str)):
            out[name] = (Optional[python], Field(None, description="the attribution, read through the opportunity"))
    title = kind.key.title().replace("_", "")
    return (create_model(f"{title}Create", __config__=strict, **create),
            create_model(f"{title}Update", __config__=strict, **update),
            create_model(f"{title}Out", **out))


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["call", "email", "meeting", "note"]
    subject: Optional[str] = Field(default=None, max_length=255)
    body: Optional[str] = Field(default=None, max_length=100_000)


class ActivityOut(BaseModel):
    id: int
    stored_as: Literal["lead_activity", "note"]
    kind: str
    record_module: str
    record_id: int
    subject: Optional[str]
    body: Optional[str]
    at: datetime


class ConvertIn(BaseModel):
    """Either an existing account (`account_id`) or `new_account: true` (made from the prospect's company)."""

    model_config = ConfigDict(extra="forbid")
    account_id: Optional[int] = Field(default=None, ge=1, le=INT64)
    new_account: bool = False


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(min_length=1, max_length=40)
    reason: Optional[str] = Field(default=None, max_length=500)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Optional[str] = Field(default=None, max_length=255, description="default: the opportunity's name")


def _actor(caller: Caller) -> Actor:
    return Actor(caller.name, caller.user_id)


def _answer(view: View, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{view.version}"'
    return {**view.data, "version": view.version, "access_type": view.access}


RecordId = Path(ge=1, le=INT64, description="the record's UPM id")


def records_router(service: RecordService, authenticate: Authenticator) -> APIRouter:
    """Every kind's routes over one RecordService."""
    router = APIRouter(prefix="/api/v1")
    for kind in KINDS.values():
        _kind_routes(router, service, authenticate, kind)
    _conversion_routes(router, service, authenticate)
    return router


def _kind_routes(router: APIRouter, service: RecordService, authenticate: Authenticator, kind: Kind) -> None:
    Create, Update, Out = _models(kind)
    Page = create_model(f"{Out.__name__}Page", items=(list[Out], ...),  # type: ignore[valid-type]
                        next_cursor=(Optional[str], Field(None, description="pass as ?cursor= for the next page")))
    tag = kind.name
    base = f"/{kind.name}"

    @router.post(base, status_code=201, response_model=Out, responses=ERRORS, tags=[tag],
                 summary=f"Create a {kind.key.replace('_', ' ')}")
    def create(body: Create, response: Response, caller: Caller = Depends(authenticate)) -> Any:  # type: ignore[valid-type]
        values = body.model_dump(exclude_unset=True, exclude={"line_items"})  # type: ignore[attr-defined]
        lines = [item.model_dump() for item in getattr(body, "line_items", [])]
        view = service.create(kind, _actor(caller), values, lines)
        response.headers["Location"] = f"/api/v1/{kind.name}/{view.data['id']}"
        return _answer(view, response)

    @router.get(base, response_model=Page, responses=ERRORS, tags=[tag], summary=f"List {kind.name}")
    def listing(caller: Caller = Depends(authenticate),
                status: Optional[str] = Query(None, max_length=40, description=f"{kind.status or 'no status'} equals"),
                partner: Optional[int] = Query(None, ge=1, le=INT64, description="partner_account_id equals"),
                updated_since: Optional[datetime] = Query(None, description="changed at or after (ISO 8601; UTC if no zone)"),
                q: Optional[str] = Query(None, max_length=200, description=f"contained in {', '.join(kind.q)} (any case)"),
                limit: int = Query(50, ge=1, le=500), cursor: Optional[str] = Query(None, max_length=200)) -> Any:
        page = service.page(kind, _actor(caller), Filters(status, partner, updated_since, q), cursor, limit)
        return {"items": [{**v.data, "version": v.version, "access_type": v.access} for v in page.items],
                "next_cursor": page.next_cursor}

    @router.get(base + "/{record_id}", response_model=Out, responses=ERRORS, tags=[tag],
                summary=f"Read a {kind.key.replace('_', ' ')}")
    def read(response: Response, record_id: int = RecordId, caller: Caller = Depends(authenticate)) -> Any:
        return _answer(service.get(kind, record_id, _actor(caller)), response)

    @router.patch(base + "/{record_id}", response_model=Out, responses=EDIT_ERRORS, tags=[tag],
                  summary=f"Update a {kind.key.replace('_', ' ')} (If-Match)")
    def update(body: Update, response: Response, record_id: int = RecordId,  # type: ignore[valid-type]
               if_match: Optional[str] = Header(None, max_length=200), caller: Caller = Depends(authenticate)) -> Any:
        values = body.model_dump(exclude_unset=True, exclude={"line_items"})  # type: ignore[attr-defined]
        items = getattr(body, "line_items", None)
        lines = None if items is None else [item.model_dump() for item in items]
        return _answer(service.update(kind, record_id, _actor(caller), values, if_match, lines), response)

    @router.delete(base + "/{record_id}", response_model=Out, responses=EDIT_ERRORS, tags=[tag],
                   summary=f"Archive a {kind.key.replace('_', ' ')} (If-Match)")
    def archive(response: Response, record_id: int = RecordId, if_match: Optional[str] = Header(None, max_length=200),
                caller: Caller = Depends(authenticate)) -> Any:
        return _answer(service.archive(kind, record_id, _actor(caller), if_match), response)

    if kind.name in ACTIVITY_KINDS:
        @router.post(base + "/{record_id}/activities", status_code=201, response_model=ActivityOut,
                     responses=ACTION_ERRORS, tags=[tag], summary="Log a call, email, meeting or note")
        def activity(body: ActivityIn, record_id: int = RecordId, caller: Caller = Depends(authenticate)) -> Any:
            return service.log_activity(kind, record_id, _actor(caller), body.kind, body.subject, body.body)


def _conversion_routes(router: APIRouter, service: RecordService, authenticate: Authenticator) -> None:
    _c, _u, ContactOut = _models(KINDS["contacts"])
    _c, _u, ProspectOut = _models(KINDS["prospects"])
    _c, _u, DealOut = _models(KINDS["deals"])

    @router.post("/prospects/{record_id}/convert", status_code=201, response_model=ContactOut,
                 responses=ACTION_ERRORS, tags=["prospects"], summary="Convert a prospect to a contact")
    def convert(body: ConvertIn, response: Response, record_id: int = RecordId,
                caller: Caller = Depends(authenticate)) -> Any:
        return _answer(service.convert_prospect(record_id, _actor(caller), account_id=body.account_id,
                                                new_account=body.new_account), response)

    @router.post("/prospects/{record_id}/status", response_model=ProspectOut, responses=ACTION_ERRORS,
                 tags=["prospects"], summary="Change a lead's status")
    def status(body: StatusIn, response: Response, record_id: int = RecordId,
               caller: Caller = Depends(authenticate)) -> Any:
        return _answer(service.change_status(record_id, _actor(caller), body.status, body.reason), response)

    @router.post("/opportunities/{record_id}/register", status_code=201, response_model=DealOut,
                 responses=ACTION_ERRORS, tags=["opportunities"], summary="Register a Closed Won opportunity as a deal")
    def register(response: Response, body: Optional[RegisterIn] = None, record_id: int = RecordId,
                 caller: Caller = Depends(authenticate)) -> Any:
        return _answer(service.register_deal(record_id, _actor(caller), name=body.name if body else None), response)


def _plain(value: Any) -> Any:
    try:
        return jsonable_encoder(value)
    except Exception:  # a value JSON cannot hold: say what it was
        return repr(value)


def install_record_errors(app: FastAPI) -> None:
    """Bad input answers 422 naming each field and value; a stale edit 409; a missing If-Match 428;
    a value the database refuses 422. Never a 500 for what a caller sent."""

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = []
        for err in exc.errors():
            loc = [str(part) for part in err.get("loc", ())]
            field = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc) or "body"
            value = None if err.get("type") == "missing" else _plain(err.get("input"))
            detail.append({"field": field, "value": value, "message": str(err.get("msg", "invalid"))})
        return JSONResponse({"error": "invalid", "detail": detail}, status_code=422)

    async def invalid_value(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Invalid)
        return JSONResponse({"error": "invalid", "detail": [
            {"field": exc.field, "value": _plain(exc.value), "message": exc.message}]}, status_code=422)

    async def stale(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VersionMismatch)
        return JSONResponse({"error": "VersionMismatch", "detail": str(exc), "current_version": exc.current},
                            status_code=409, headers={"ETag": f'"{exc.current}"'})

    async def unconditional(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "PreconditionRequired", "detail": str(exc)}, status_code=428)

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "invalid", "detail": [
            {"field": "body", "value": None, "message": "the datastore refused these values (out of range or "
                                                         "conflicting with another record)"}]}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Invalid, invalid_value)
    app.add_exception_handler(VersionMismatch, stale)
    app.add_exception_handler(PreconditionRequired, unconditional)
    app.add_exception_handler(IntegrityError, refused)
    app.add_exception_handler(DataError, refused)
