"""Entry points: the CLI and the HTTP API, thin layers over the services."""
