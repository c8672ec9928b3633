"""The HTTP API: health and readiness now; the Assign-to-Partner endpoint and partner inbox later."""
