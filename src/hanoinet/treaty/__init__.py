"""treaty."""
