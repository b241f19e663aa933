"""Local AWS: moto plus what moto cannot do without Docker (running the real handlers,
evaluating alarms, delivering events). Used by the integration tests and the emulator."""
