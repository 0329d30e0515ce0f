"""Settings: one pydantic-settings object, read from the environment (``HANOINET_*``) and validated at start."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Return the per-user data directory (XDG), so that a node runs without any setting at all."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hanoinet"


class Settings(BaseSettings):
    """A node's settings. There are no secrets here with defaults: keys are created by ``hanoinet init``."""

    model_config = SettingsConfigDict(env_prefix="HANOINET_", extra="ignore")

    data_dir: Path = default_data_dir()
    database_url: str | None = None
    """SQLAlchemy URL; by default a SQLite file in the data directory. PostgreSQL: postgresql+psycopg://..."""
    node_state: str | None = None
    node_name: str = "hanoinet node"
    """The authority this node serves, as it appears in exports and (later) the directory."""
    """ISO 3166 alpha-3 code of the State this node serves; outgoing requests default to it."""

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("node_state")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @property
    def effective_database_url(self) -> str:
        """The URL actually used: the setting, or the SQLite file inside the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'hanoinet.db'}"
