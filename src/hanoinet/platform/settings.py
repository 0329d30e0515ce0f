"""Settings: one pydantic-settings object, read from the environment (``HANOINET_*``) and validated at start."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hanoinet.platform.permissions import NodeRole


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
    """ISO 3166 alpha-3 code of the State this node serves; outgoing requests default to it."""
    node_name: str = "hanoinet node"
    """The authority this node serves, as it appears in exports and in its directory entry."""
    node_id: str | None = None
    """This node's id in the directory; chosen at init (by default the State's code and a random part), then fixed."""
    node_roles: str = "central_authority"
    """Comma-separated: central_authority, point_of_contact_24_7, competent_authority, directory."""
    node_languages: str = "en"
    """Comma-separated language tags the authority accepts requests in (Art 40: a language acceptable to it)."""
    node_hours: str = "24/7"
    node_endpoint: str | None = None
    """The base URL other nodes reach this node at (https in production); by default where ``serve`` listens."""
    federation_window_seconds: int = 300
    """How far a transmission's timestamp may be from this node's clock (replay protection)."""
    federation_retry_max_seconds: float = 60.0
    """Longest wait between delivery attempts to a peer that does not answer (exponential backoff up to it)."""
    federation_batch_size: int = 500
    clock_speed: float = 1.0
    """Training exercises: legal clocks run this many times faster than real time (1440: a day per minute)."""
    clock_epoch: datetime | None = None
    """Training exercises: the real instant from which the fast clock runs (the same for every node)."""
    # --- logs and error bodies (platform.logsafe): what an attacker's input may make of them
    log_format: Literal["text", "json"] = "text"
    """``text``: one line per record; ``json``: one JSON object per line (time, level, logger, message, trace)."""
    log_value_limit: int = Field(default=200, ge=16, le=100_000)
    """The longest argument of a log record (a key id, a user name, a path): longer ones are cut, with a marker."""
    log_message_limit: int = Field(default=2000, ge=64, le=1_000_000)
    """The longest log message, its arguments put in (control characters escaped: always one line)."""
    log_record_limit: int = Field(default=16_000, ge=256, le=10_000_000)
    """The longest log record with its traceback."""
    error_text_limit: int = Field(default=1000, ge=64, le=1_000_000)
    """The longest string of an error body: a message quoting the caller's input never echoes more of it."""

    @field_validator("clock_speed")
    @classmethod
    def _speed(cls, value: float) -> float:
        if not 1.0 <= value <= 100_000.0:
            raise ValueError("must be between 1 (real time) and 100000")
        return value

    @field_validator("clock_epoch")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone")
        return value

    @field_validator("node_roles")
    @classmethod
    def _roles(cls, value: str) -> str:
        known = {r.value for r in NodeRole}
        roles = [r.strip() for r in value.split(",") if r.strip()]
        unknown = [r for r in roles if r not in known]
        if not roles or unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none)'}; roles are {', '.join(sorted(known))}")
        return ",".join(roles)

    @field_validator("node_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/") if value else value

    @field_validator("federation_window_seconds", "federation_batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

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
