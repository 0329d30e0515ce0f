"""Service layer: one function per user action, each run inside a unit of work."""
