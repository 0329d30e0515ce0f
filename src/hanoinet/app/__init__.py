"""The composition root: the Node, its wiring from settings, and the API, web and CLI built from every capability."""
