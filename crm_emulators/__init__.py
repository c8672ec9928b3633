"""Faithful local stand-ins for the CRMs (Salesforce, HubSpot).

Each emulator lives in its own package and shares nothing with the adapters: the adapters talk to
them only over HTTP(S) through the real client libraries, exactly as they talk to the real CRMs.
Admins use them to rehearse a mapping change; the test suite and the benchmarks run against them.
"""
