"""Accounts: users, roles, sessions, passwords and API tokens."""
