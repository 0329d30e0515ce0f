"""Adapters: persistence, files, rule-pack loading, country data. The only layer that touches I/O."""
