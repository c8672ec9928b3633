"""What every emulator shares: fault queues and the dropped answer (`faults`), the `/__emulator/*`
control endpoints (`control`); the clock (`crm_emulators.clock`) and serving (`crm_emulators.runner`,
`crm_emulators.plugin`) sit beside this package."""
