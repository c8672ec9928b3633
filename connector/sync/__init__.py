"""The sync engine: pull (CRM -> UPM), push (outbox -> CRM), modes, conflicts, cursors, bindings."""
