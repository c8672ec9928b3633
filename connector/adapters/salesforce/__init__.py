"""The Salesforce adapter: REST through simple-salesforce (SOQL pages for changes, getDeleted plus the
recycle bin for deletes, sObject Collections packed into /composite and Bulk API 2.0 for upserts),
OAuth tokens refreshed on 401, a quota guard on `Sforce-Limit-Info`."""

from .adapter import SalesforceAdapter

__all__ = ["SalesforceAdapter"]
