"""The kernel every capability builds on: settings, database, errors, permissions, HTTP security, web shell."""
