"""The daemon: leases on lanes, the APScheduler scheduler, and the process that hosts them with the
HTTP API."""
