"""Import prospects from an XLSX or CSV file (the portal's Import Prospects).

Modules, in the order an import runs: `table` reads the file, `columns` maps its headers to the
template, `rows` checks each row (`cells` and `countries` parse cells; RecordAssignTo is resolved by
connector.leads.targets), `keys` matches rows to stored prospects, `prospects` writes and places
them, `report` keeps the outcome and writes the error report.

Columns are matched by name whatever the case, spacing or punctuation ("First Name", "first_name",
"FIRSTNAME"); other columns are reported and ignored. Rows are read as a stream (openpyxl
read-only, or csv), validated, and written `CHUNK` rows per transaction, each row in its own
savepoint, so one bad row never loses the others. Every problem is one line of the error report:
row number (the header is row 1), field, value and a message such as
"Country: 'United States' is not a valid code; did you mean 'USA'?". Countries are ISO 3166-1 alpha-3
codes (pycountry); emails are checked for syntax by email-validator (no DNS look-up).

Keys (`update_on`):
- none: every row creates a prospect; an email already in the datastore, or earlier in the file,
  is an error (nothing is duplicated silently);
- "email": the prospect with that email (case-insensitive) is updated, else one is created;
- "external-id": the prospect whose CRM id (its binding, on any connection) is the row's External
  ID is updated; an External ID no prospect has is an error, as a new prospect could not keep it.
On update an empty cell keeps the stored value.

Assignment (seed: "Record Assignment During Import"): `RecordAssignTo` names a partner group, a
partner user (email) or a partner account; `AccessType` says which (Group, User or Account) and may
be left empty (an email is a user, else a group, else an account of that name: the forms of
connector.leads.targets). The seed's AccessType is the kind of assignee, not the access level: a
Read-Only/Read-Write value there is refused with a pointer to the optional `Access Level` column (default: the configured
`leads.default_access_type`). Such rows are assigned through the distribution service; every
other new prospect, and an updated one never distributed, is distributed by the rules.
"""

from connector.leads.imports.prospects import CHUNK, UPDATE_KEYS, import_prospects
from connector.leads.imports.report import ImportReport, RowError, write_error_report
from connector.leads.imports.table import ImportFileError

__all__ = ["CHUNK", "UPDATE_KEYS", "ImportFileError", "ImportReport", "RowError", "import_prospects",
           "write_error_report"]
