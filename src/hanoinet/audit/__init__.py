"""The audit log: append-only, hash-chained and signed; who did what, when, through which channel."""
