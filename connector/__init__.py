"""UPM Connector: keeps a UPM partner-portal datastore in sync with vendors' and partners' CRMs
and distributes leads to partners."""

__version__ = "0.1.0"
