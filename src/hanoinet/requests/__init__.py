"""Requests of Chapter V: their contents, state machine, clocks and inbox."""
