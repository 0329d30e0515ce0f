"""Property in a case: tracing, freezing, confiscation, return and disposal (Arts 31, 49-52)."""
