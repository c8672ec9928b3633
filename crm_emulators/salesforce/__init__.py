"""A stateful local Salesforce over HTTPS that the real simple-salesforce talks to unchanged.

    from connector.emulators.salesforce import EmulatorOptions, serve_in_background
    with serve_in_background(EmulatorOptions(token_ttl=7200), state_dir=tmp_path) as running:
        running.credentials   # instance_url, token_url, client_id, client_secret, refresh_token, ca_file
        running.emulator      # the SalesforceEmulator: admin_upsert / admin_delete / records / stats ...
"""

from .emulator import EmulatorOptions, SalesforceEmulator
from .errors import RecordError
from .server import RunningEmulator, serve_in_background

__all__ = ["EmulatorOptions", "RecordError", "RunningEmulator", "SalesforceEmulator", "serve_in_background"]
