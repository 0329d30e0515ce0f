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
    # Refused transmissions (issue 11): an unauthenticated caller must not buy a row and a signed audit entry per
    # request. Refusals are rate-limited per source address, and beyond a cap per window they are counted.
    federation_refusal_rate: float = 1.0
    """Refusals per second a source address earns back (a token bucket); beyond, its transmissions get a 429."""
    federation_refusal_burst: int = 30
    """Refusals a source address may cause in a row before the rate applies (the bucket's size)."""
    federation_refusal_record_cap: int = 20
    """Refusals recorded one by one (a row and a signed audit entry each) per source address and window; the rest
    of the window is one counter row and one audit entry with the count."""
    federation_refusal_record_total: int = 200
    """Refusals recorded one by one per window for all source addresses together (many addresses, one attack)."""
    federation_refusal_window_seconds: int = 60
    """The counting window for refusals, in seconds."""
    federation_refusal_sources: int = 10_000
    """Source addresses tracked at once (buckets and counts); beyond, the least recent is forgotten and counts of
    new addresses go to one shared tally, so that memory stays bounded whatever the number of addresses."""

    # Outbound requests (issue 11): only where an operator pointed them, never into the node's own network.
    allow_private_peers: bool = False
    """Let this node connect to peers and directories at private, loopback, link-local and other non-public
    addresses. Off by default: a peer's endpoint (or a sync URL) pointing at 127.0.0.1 or 10.x would make the node a
    proxy into its own network (SSRF). Turn on for nodes on one machine or one private network (demo, tests)."""
    directory_urls: str = ""
    """Comma-separated base URLs ``directory sync`` may fetch a register from, besides the confirmed endpoints of
    trusted nodes with the directory role; any other URL is refused."""
    federation_max_answer_bytes: int = 16 * 1024 * 1024
    """The longest answer this node reads from a peer or a directory (streamed, cut off beyond): 16 MiB."""

    # --- sign-in throttling and password checks (issue 11; the reasons: ``accounts.throttle``, ``accounts.passwords``)
    login_free_per_pair: int = Field(5, ge=1)
    """Failed sign-ins to one account from one address before each further one waits (exponential backoff)."""
    login_free_per_address: int = Field(20, ge=1)
    """Sign-ins from one address (IPv6: its /64), all accounts and unknown names together, before each waits."""
    login_free_per_account: int = Field(50, ge=1)
    """Failed sign-ins to one account from every address before the addresses that failed on it wait (any other
    place, and a place where the account signed in before, is still checked at once: no lockout)."""
    login_first_delay_seconds: float = Field(1.0, gt=0)
    """The first wait once an allowance is used up; it doubles with each further attempt."""
    login_max_delay_seconds: float = Field(900.0, gt=0)
    """The longest wait between two checked attempts: a slowdown, never a lockout."""
    login_forget_seconds: float = Field(3600.0, gt=0)
    """Counters of sign-in attempts are forgotten this long after their last attempt."""
    login_max_tracked: int = Field(100_000, ge=100)
    """At most this many sign-in counters in memory (the least recently used go first): memory stays bounded."""
    password_checks_concurrent: int = Field(2, ge=1)
    """Password checks (Argon2id, 64 MiB each) running at once."""
    password_checks_waiting: int = Field(8, ge=0)
    """Password checks waiting for a slot; one more is refused at once (503 with Retry-After), not queued."""
    # --- formal documents (issue 12): the letterhead and signature block of a request's PDF
    document_letterhead: str = ""
    """Lines printed under the authority's name at the top of each formal document (address, telephone, e-mail);
    separate lines with a newline or with " | "."""
    document_signatory: str = ""
    """The name and title printed in each document's signature block."""
    document_location: str = ""
    """Where the authority signs (the PDF signature's location, e.g. "Hanoi")."""
    document_tsa_url: str | None = None
    """An RFC 3161 time-stamping authority (http or https URL): where set, every document signature is timestamped
    by it; if it cannot be reached, no document is produced (never one without the timestamp asked for)."""
    clock_speed: float = 1.0
    """Training exercises: legal clocks run this many times faster than real time (1440: a day per minute)."""
    clock_epoch: datetime | None = None
    """Training exercises: the real instant from which the fast clock runs (the same for every node)."""
    # Evidence uploads in progress (issue 11): sealed on disk, but still bounded in time and in space.
    upload_expiry_seconds: int = Field(default=86_400, ge=1)
    """How long an upload nobody touches is kept before it is deleted with its bytes (default 24 hours); swept when
    uploads are started or listed, and by ``hanoinet evidence uploads-sweep``."""
    upload_quota_bytes: int = Field(default=256 << 30, ge=0)
    """How many bytes one account's uploads in progress may hold together (default 256 GiB); an upload's declared
    size counts from its start. Beyond it, starting or appending is refused with 409 naming this setting."""

    # --- limits on what a caller may send (issue 11): checked before anything is parsed (``platform.limits``)
    limit_json_bytes: int = Field(
        1024 * 1024,
        description="Largest body of an API request (JSON under /api/ and /federation/, the deposits CSV); "
        "more, declared or sent, is refused with 413 before it is read. The largest legitimate body (a request "
        "with long items) is a few hundred KiB.",
    )
    limit_form_bytes: int = Field(
        1024 * 1024,
        description="Largest web form (every page's POST, /login included): 413 beyond it. A message of 100,000 "
        "characters of a non-Latin script, percent-encoded, is just under 1 MiB.",
    )
    limit_form_fields: int = Field(
        256, description="Most fields a form may have (the composer of a request has a few dozen); 400 beyond it."
    )
    limit_form_field_bytes: int = Field(
        512 * 1024, description="Largest single field of a form, in bytes; 400 beyond it."
    )
    limit_transmission_bytes: int = Field(
        64 * 1024 * 1024,
        description="Largest transmission from another node (POST /federation/v1/transmissions), decrypted whole: "
        "413 beyond it, counted as it arrives. The protocol's own bound is 64 MiB; a higher value changes nothing.",
    )
    limit_stream_bytes: int = Field(
        64 * 1024 * 1024 * 1024,
        description="Largest single request of an evidence stream (PATCH /api/v1/uploads/{id}, a transfer's "
        "records): written to disk as it arrives, never held, so this bounds disk use per request, not memory.",
    )
    limit_document_bytes: int = Field(
        32 * 1024 * 1024,
        description="Largest formal document (PDF) sent to be checked or imported (POST /api/v1/documents/verify): "
        "413 beyond it. A request's signed bilingual PDF is well under 1 MiB.",
    )
    limit_body_seconds: float = Field(
        60.0,
        description="Time a body parsed whole (API, forms, transmissions) may take to arrive, from the end of the "
        "headers: a client that trickles it gets 408 and the connection is closed. 64 MiB in 60 s needs 1.1 MB/s.",
    )
    limit_stream_idle_seconds: float = Field(
        60.0, description="Longest pause between two pieces of an evidence stream before it is cut with 408."
    )
    serve_limit_concurrency: int = Field(
        256,
        description="hanoinet serve: most connections and requests at once; beyond it, new requests get 503 "
        "(uvicorn limit_concurrency). Each may hold up to a body's cap.",
    )
    serve_backlog: int = Field(
        128, description="hanoinet serve: connections the kernel queues before the server accepts them."
    )
    serve_keep_alive_seconds: int = Field(
        5, description="hanoinet serve: how long an idle keep-alive connection stays open (uvicorn default 5)."
    )
    serve_http: Literal["h11", "httptools"] = Field(
        "h11",
        description="hanoinet serve: the HTTP parser. h11 (the default) bounds the request line and headers "
        "(serve_max_header_bytes); httptools is faster but bounds neither: use it only behind a proxy that does.",
    )
    serve_max_header_bytes: int = Field(
        16 * 1024,
        description="hanoinet serve: largest request line and headers together (h11's max incomplete event size); "
        "431/400 and the connection closed beyond it.",
    )

    @field_validator(
        "limit_json_bytes",
        "limit_form_bytes",
        "limit_form_fields",
        "limit_form_field_bytes",
        "limit_transmission_bytes",
        "limit_stream_bytes",
        "serve_limit_concurrency",
        "serve_backlog",
        "serve_keep_alive_seconds",
        "serve_max_header_bytes",
    )
    @classmethod
    def _positive_limit(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("limit_body_seconds", "limit_stream_idle_seconds")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be more than 0 seconds")
        return value

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

    @field_validator(
        "federation_window_seconds",
        "federation_batch_size",
        "federation_refusal_burst",
        "federation_refusal_window_seconds",
        "federation_refusal_sources",
        "federation_max_answer_bytes",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("federation_refusal_rate")
    @classmethod
    def _rate(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be more than 0 (refusals per second)")
        return value

    @field_validator("federation_refusal_record_cap", "federation_refusal_record_total")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
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
