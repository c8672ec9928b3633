"""A SOQL subset: parse a query against the schema, then filter, sort and slice stored records.

Supported: `SELECT f1, Parent.f2 | COUNT() | COUNT(f) [alias] FROM Object [WHERE cond] [ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`; conditions with AND / OR (not mixed without parentheses, as
in Salesforce), NOT, parentheses, = != <> < <= > >=, [NOT] IN (...), LIKE with % and _, null, quoted strings
with Salesforce's escapes, numbers, true/false, date and unquoted datetime literals. Text comparisons ignore
letter case, as Salesforce's do. A selected `Account.Name` or `Owner.Email` (one lookup deep, not in WHERE
or ORDER BY) is a field of the parent record the lookup points to.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .ids import normalize_id
from .schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, Schema
from .timefmt import normalize_datetime

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
    |(?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TYPE_NAMES = {
    "text": "string", "id": "id", "bool": "boolean", "number": "double", "date": "date", "datetime": "dateTime"
}
_CLAUSE_WORDS = frozenset({"FROM", "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "FOR", "WITH", "USING"})


class SoqlError(Exception):
    """A query Salesforce would refuse: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE..."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def api_error(self) -> ApiError:
        """The 400 response for this error."""
        return ApiError.bad_request(self.error_code, self.message)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY item."""

    field: FieldDef
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class CountSpec:
    """`COUNT()` (field None) or `COUNT(field) [alias]`."""

    field: FieldDef | None
    alias: str


@dataclass(frozen=True)
class ParentField:
    """A selected `Account.Name`: `field` of the `parent` record the lookup `reference` (AccountId) names."""

    reference: FieldDef
    parent: ObjectDef
    field: FieldDef

    @property
    def relationship(self) -> str:
        """The relationship name results nest the parent's fields under (`Account`)."""
        return self.reference.relationship_name or self.reference.name

    @property
    def path(self) -> str:
        return f"{self.relationship}.{self.field.name}"

    def parent_of(self, record: Record, get: Callable[[str, str], Record | None]) -> Record | None:
        """The live parent record `record`'s lookup points to (None when empty or deleted); `get(object, id)`."""
        parent_id = record.get(self.reference.name)
        parent = get(self.parent.name, parent_id) if parent_id else None
        return parent if parent is not None and not parent.get("IsDeleted") else None


@dataclass
class Query:
    """A parsed query, ready to run over an object's records."""

    object: ObjectDef
    fields: list[FieldDef]
    count: CountSpec | None
    where: Predicate | None
    order: list[OrderKey]
    limit: int | None
    offset: int
    parents: list[ParentField]
    modified_since: str | None = None
    """A `SystemModstamp >=`/`>` bound every match meets (a top-level AND term of an ordered query): the
    store's index on SystemModstamp can hand over the candidates (as Salesforce's own index does)."""

    def run(self, records: Iterable[Record]) -> list[Record]:
        """The matching records, sorted and sliced by ORDER BY / OFFSET / LIMIT."""
        rows = [record for record in records if self.where(record)] if self.where else list(records)
        for key in reversed(self.order):
            rows.sort(key=_sort_key(key), reverse=key.descending)
        end = None if self.limit is None else self.offset + self.limit
        return rows[self.offset : end] if self.offset or end is not None else rows


def parse(text: str, schema: Schema) -> Query:
    """Parse `text`; raises SoqlError like Salesforce's 400 answers."""
    return _Parser(text, schema).query()


def _kind(field: FieldDef) -> str:
    if field.type in TEXT_TYPES:
        return "text"
    if field.type in NUMBER_TYPES:
        return "number"
    return {"id": "id", "reference": "id", "boolean": "bool", "date": "date"}.get(field.type, "datetime")


def _sort_key(key: OrderKey) -> Callable[[Record], tuple[int, Any]]:
    name = key.field.name
    null_rank = 0 if key.nulls_first != key.descending else 2
    if _kind(key.field) == "text":
        return lambda r: (1, v.lower()) if (v := r.get(name)) is not None else (null_rank, "")
    return lambda r: (1, v) if (v := r.get(name)) is not None else (null_rank, 0)


def _getter(field: FieldDef) -> Callable[[Record], Any]:
    name = field.name
    if _kind(field) == "text":
        return lambda r: v.lower() if (v := r.get(name)) is not None else None
    return lambda r: r.get(name)


class _Parser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = self._tokenize()
        self.position = 0
        self.object: ObjectDef | None = None
        self._nesting = 0
        self._top_or = False
        self._bounds: list[str] = []

    # ---- tokens -----------------------------------------------------------------------------------------------

    def _tokenize(self) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while pos < len(self.text):
            if self.text[pos] == "'":
                end = pos + 1
                while end < len(self.text) and self.text[end] != "'":
                    end += 2 if self.text[end] == "\\" else 1
                if end >= len(self.text):
                    raise self._error(pos, "unterminated string literal")
                tokens.append(_Token("string", self.text[pos + 1 : end], pos))
                pos = end + 1
                continue
            match = _TOKEN.match(self.text, pos)
            if not match:
                raise self._error(pos, f"unexpected token: '{self.text[pos]}'")
            if match.lastgroup != "space":
                tokens.append(_Token(str(match.lastgroup), match.group(), pos))
            pos = match.end()
        tokens.append(_Token("eof", "", len(self.text)))
        return tokens

    def _peek(self) -> _Token:
        return self.tokens[self.position]

    def _next(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _is_word(self, *words: str) -> bool:
        token = self._peek()
        return token.kind == "ident" and token.text.upper() in words

    def _expect_word(self, word: str) -> _Token:
        if not self._is_word(word):
            raise self._unexpected(self._peek())
        return self._next()

    def _expect_punct(self, char: str) -> _Token:
        token = self._peek()
        if token.kind != "punct" or token.text != char:
            raise self._unexpected(token)
        return self._next()

    # ---- errors -----------------------------------------------------------------------------------------------

    def _error(self, pos: int, detail: str, error_code: str = "MALFORMED_QUERY") -> SoqlError:
        row = self.text.count("\n", 0, pos) + 1
        line_start = self.text.rfind("\n", 0, pos) + 1
        line_end = self.text.find("\n", pos)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        column = pos - line_start
        return SoqlError(error_code, f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:{column + 1}\n{detail}")

    def _unexpected(self, token: _Token) -> SoqlError:
        shown = "<EOF>" if token.kind == "eof" else f"'{token.text}'"
        return self._error(token.pos, f"unexpected token: {shown}")

    # ---- grammar ----------------------------------------------------------------------------------------------

    def query(self) -> Query:
        """The whole query: SELECT ... FROM ... [WHERE] [ORDER BY] [LIMIT] [OFFSET]."""
        self._expect_word("SELECT")
        count, field_tokens = self._select_list()
        self._expect_word("FROM")
        object_token = self._next()
        if object_token.kind != "ident":
            raise self._unexpected(object_token)
        self.object = self.schema.get(object_token.text)
        if self.object is None:
            raise self._error(
                object_token.pos,
                f"sObject type '{object_token.text}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        fields, parents = self._selected_fields(field_tokens)
        if count is not None and count[0] is not None:
            count_spec = CountSpec(self._field(count[0]), count[1])
        else:
            count_spec = CountSpec(None, "") if count is not None else None
        where = None
        if self._is_word("WHERE"):
            self._next()
            where = self._condition()
        order = self._order_by() if self._is_word("ORDER") else []
        limit = self._integer_clause("LIMIT")
        offset = self._integer_clause("OFFSET") or 0
        if offset > 2000:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        if self._peek().kind != "eof":
            raise self._unexpected(self._peek())
        since = max(self._bounds) if self._bounds and not self._top_or and order else None
        return Query(self.object, fields, count_spec, where, order, limit, offset, parents, since)

    def _select_list(self) -> tuple[tuple[_Token | None, str] | None, list[_Token]]:
        if self._is_word("COUNT") and self.tokens[self.position + 1].text == "(":
            self._next()
            self._expect_punct("(")
            argument = self._next() if self._peek().kind == "ident" else None
            self._expect_punct(")")
            alias = "expr0"
            if self._peek().kind == "ident" and self._peek().text.upper() not in _CLAUSE_WORDS:
                alias = self._next().text
            return (argument, alias), []
        tokens = [self._select_field()]
        while self._peek().kind == "punct" and self._peek().text == ",":
            self._next()
            tokens.append(self._select_field())
        return None, tokens

    def _select_field(self) -> _Token:
        token = self._next()
        if token.kind != "ident" or token.text.upper() in _CLAUSE_WORDS:
            raise self._unexpected(token)
        if self._peek().kind == "punct" and self._peek().text == "(":
            raise self._error(token.pos, f"Unknown function or aggregate: {token.text}")
        return token

    def _selected_fields(self, tokens: list[_Token]) -> tuple[list[FieldDef], list[ParentField]]:
        fields: list[FieldDef] = []
        parents: list[ParentField] = []
        for token in tokens:
            path = self._path(token)
            selected: FieldDef | ParentField = self._parent_field(token, path) if len(path) == 2 else self._field(token)
            chosen: list[Any] = parents if isinstance(selected, ParentField) else fields
            if selected in chosen:
                shown = selected.path if isinstance(selected, ParentField) else selected.name
                raise self._error(token.pos, f"duplicate field selected: {shown}")
            chosen.append(selected)
        return fields, parents

    def _path(self, token: _Token) -> list[str]:
        """The field path of `token`, less a leading object name (`Lead.Email` is `Email`)."""
        assert self.object is not None
        path = token.text.split(".")
        if len(path) > 1 and path[0].lower() == self.object.name.lower():
            path = path[1:]
        return path

    def _parent_field(self, token: _Token, path: list[str]) -> ParentField:
        assert self.object is not None
        reference = next(
            (f for f in self.object.fields.values() if (f.relationship_name or "").lower() == path[0].lower()), None
        )
        parent = self.schema.get(reference.reference_to[0]) if reference and len(reference.reference_to) == 1 else None
        if reference is None or parent is None:
            raise self._unknown_relationship(token, path[0])
        field = parent.field(path[1])
        if field is None:
            raise self._no_such_column(token, path[1], parent.name)
        return ParentField(reference, parent, field)

    def _field(self, token: _Token) -> FieldDef:
        assert self.object is not None
        path = self._path(token)
        if len(path) > 1:
            raise self._unknown_relationship(token, path[0])
        field = self.object.field(path[0])
        if field is None:
            raise self._no_such_column(token, path[0], self.object.name)
        return field

    def _unknown_relationship(self, token: _Token, name: str) -> SoqlError:
        return self._error(
            token.pos,
            f"Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
            "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
            "INVALID_FIELD",
        )

    def _no_such_column(self, token: _Token, name: str, entity: str) -> SoqlError:
        return self._error(
            token.pos,
            f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or "
            "the describe call for the appropriate names.",
            "INVALID_FIELD",
        )

    def _condition(self) -> Predicate:
        predicates = [self._term()]
        conjunction = None
        while self._is_word("AND", "OR"):
            word = self._peek().text.upper()
            if conjunction is not None and word != conjunction:
                raise self._unexpected(self._peek())
            conjunction = word
            self._top_or = self._top_or or (word == "OR" and not self._nesting)
            self._next()
            predicates.append(self._term())
        if len(predicates) == 1:
            return predicates[0]
        if conjunction == "AND":
            if len(predicates) == 2:
                first, second = predicates
                return lambda r: first(r) and second(r)
            return lambda r: all(predicate(r) for predicate in predicates)
        if len(predicates) == 2:
            first, second = predicates
            return lambda r: first(r) or second(r)
        return lambda r: any(predicate(r) for predicate in predicates)

    def _term(self) -> Predicate:
        if self._is_word("NOT"):
            self._next()
            self._nesting += 1
            inner = self._term()
            self._nesting -= 1
            return lambda r: not inner(r)
        if self._peek().kind == "punct" and self._peek().text == "(":
            self._next()
            self._nesting += 1
            inner = self._condition()
            self._nesting -= 1
            self._expect_punct(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        field_token = self._next()
        if field_token.kind != "ident":
            raise self._unexpected(field_token)
        field = self._field(field_token)
        get = _getter(field)
        if self._is_word("NOT"):
            self._next()
            if not self._is_word("IN"):
                raise self._unexpected(self._peek())
            self._next()
            values, has_null = self._value_list(field)
            return lambda r: (v := get(r)) not in values and not (has_null and v is None)
        if self._is_word("IN"):
            self._next()
            values, has_null = self._value_list(field)
            return lambda r: (v := get(r)) in values or (has_null and v is None)
        if self._is_word("LIKE"):
            self._next()
            return self._like(field, get)
        op_token = self._next()
        if op_token.kind != "op":
            raise self._unexpected(op_token)
        value_token = self._next()
        value = self._literal(field, value_token)
        compare = _COMPARE[op_token.text]
        if field.name == "SystemModstamp" and op_token.text in (">", ">=") and isinstance(value, str) and not self._nesting:
            self._bounds.append(value)
        if value is None:
            if op_token.text == "=":
                return lambda r: get(r) is None
            if op_token.text in ("!=", "<>"):
                return lambda r: get(r) is not None
            raise self._error(value_token.pos, "invalid operator on null value", "INVALID_QUERY_FILTER_OPERATOR")
        if op_token.text in ("!=", "<>"):
            return lambda r: (v := get(r)) is None or v != value
        return lambda r: (v := get(r)) is not None and compare(v, value)

    def _value_list(self, field: FieldDef) -> tuple[frozenset[Any], bool]:
        self._expect_punct("(")
        values = [self._literal(field, self._next())]
        while self._peek().kind == "punct" and self._peek().text == ",":
            self._next()
            values.append(self._literal(field, self._next()))
        self._expect_punct(")")
        return frozenset(value for value in values if value is not None), any(value is None for value in values)

    def _like(self, field: FieldDef, get: Callable[[Record], Any]) -> Predicate:
        token = self._next()
        if token.kind != "string":
            raise self._error(token.pos, f"value of filter criterion for field '{field.name}' must be of type "
                                         "string and should be enclosed in quotes")
        if _kind(field) != "text":
            raise self._error(token.pos, f"invalid operator on field: {field.name}", "INVALID_QUERY_FILTER_OPERATOR")
        pattern = re.compile(self._like_pattern(token), re.IGNORECASE | re.DOTALL)
        return lambda r: (v := get(r)) is not None and pattern.fullmatch(v) is not None

    def _literal(self, field: FieldDef, token: _Token) -> Any:
        if token.kind == "ident" and token.text.upper() == "NULL":
            return None
        kind = _kind(field)
        if kind == "text" and token.kind == "string":
            return self._unescape(token).lower()
        if kind == "id" and token.kind == "string":
            value = self._unescape(token)
            normalized = normalize_id(value)
            if normalized is None:
                raise self._error(token.pos, f"invalid ID field: {value}", "INVALID_QUERY_FILTER_OPERATOR")
            return normalized
        if kind == "bool" and token.kind == "ident" and token.text.upper() in ("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if kind == "number" and token.kind == "number":
            return float(token.text)
        if kind == "date" and token.kind == "date":
            return token.text
        if kind == "datetime" and token.kind == "datetime":
            try:
                return normalize_datetime(token.text)
            except ValueError:
                raise self._unexpected(token) from None
        if token.kind in ("eof", "punct", "op") or (token.kind == "ident" and token.text.upper() in _CLAUSE_WORDS):
            raise self._unexpected(token)
        quoting = "be enclosed in quotes" if kind in ("text", "id") else "not be enclosed in quotes"
        raise self._error(
            token.pos,
            f"value of filter criterion for field '{field.name}' must be of type {_TYPE_NAMES[kind]} and should "
            f"{quoting}",
        )

    def _unescape(self, token: _Token) -> str:
        raw = token.text
        if "\\" not in raw:
            return raw
        out = []
        i = 0
        while i < len(raw):
            char = raw[i]
            if char != "\\":
                out.append(char)
                i += 1
                continue
            escaped, i = self._escape(token, i)
            out.append(escaped if escaped is not None else raw[i - 1])
        return "".join(out)

    def _like_pattern(self, token: _Token) -> str:
        raw = token.text
        out = []
        i = 0
        while i < len(raw):
            char = raw[i]
            if char == "\\":
                escaped, i = self._escape(token, i)
                out.append(re.escape(escaped if escaped is not None else raw[i - 1]))
                continue
            out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
            i += 1
        return "".join(out)

    def _escape(self, token: _Token, i: int) -> tuple[str | None, int]:
        """The character escaped at raw[i] == '\\' (None for \\% and \\_, meaning the character itself) and the
        index after the escape."""
        raw = token.text
        code = raw[i + 1] if i + 1 < len(raw) else ""
        if code in _ESCAPES:
            return _ESCAPES[code], i + 2
        if code in ("%", "_"):
            return None, i + 2
        if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
            return chr(int(raw[i + 2 : i + 6], 16)), i + 6
        raise self._error(
            token.pos,
            f"Invalid string literal '{raw}'. Illegal character sequence '\\{code}' in string literal.",
        )

    def _order_by(self) -> list[OrderKey]:
        self._expect_word("ORDER")
        self._expect_word("BY")
        keys = [self._order_key()]
        while self._peek().kind == "punct" and self._peek().text == ",":
            self._next()
            keys.append(self._order_key())
        return keys

    def _order_key(self) -> OrderKey:
        token = self._next()
        if token.kind != "ident":
            raise self._unexpected(token)
        field = self._field(token)
        descending = False
        if self._is_word("ASC", "DESC"):
            descending = self._next().text.upper() == "DESC"
        nulls_first = not descending
        if self._is_word("NULLS"):
            self._next()
            if not self._is_word("FIRST", "LAST"):
                raise self._unexpected(self._peek())
            nulls_first = self._next().text.upper() == "FIRST"
        return OrderKey(field, descending, nulls_first)

    def _integer_clause(self, word: str) -> int | None:
        if not self._is_word(word):
            return None
        self._next()
        token = self._next()
        if token.kind != "number" or not token.text.isdigit():
            raise self._unexpected(token)
        return int(token.text)
