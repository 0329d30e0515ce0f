"""Wiring: settings in, a ready ``Node`` out. The one place that chooses real adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hanoinet.accounts.passwords import Argon2Hasher
from hanoinet.accounts.throttle import SignInThrottle, ThrottlePolicy
from hanoinet.app.node import Node, UnitOfWork
from hanoinet.app.unit_of_work import SqlUnitOfWork
from hanoinet.documents.settings import DocumentSettings
from hanoinet.evidence.exporter import FileExporter
from hanoinet.evidence.uploads import UploadStore
from hanoinet.evidence.vault import BlobStore
from hanoinet.federation.domain import Backoff
from hanoinet.federation.jose import JoseIdentity
from hanoinet.federation.settings import FederationSettings, NodeProfile, RefusalLimits
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.errors import CONFIGURATION, ErrorKind
from hanoinet.platform.keys import ensure_keys
from hanoinet.platform.permissions import NodeRole
from hanoinet.platform.settings import Settings
from hanoinet.rules.loader import builtin_pack_paths, load_packs
from hanoinet.treaty.countries import load_catalog


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """A clock for training exercises: from ``epoch`` on, time runs ``speed`` times faster (the same for every node
    given the same epoch), so that days-long legal clocks can be lived through in minutes."""

    def __init__(self, epoch: datetime, speed: float) -> None:
        self.epoch = epoch
        self.speed = speed

    def now(self) -> datetime:
        return self.epoch + (datetime.now(UTC) - self.epoch) * self.speed


class InvalidSettingError(ValueError):
    """A setting is well-formed but wrong for this node (an unknown State code)."""

    error_kind: ClassVar[ErrorKind] = CONFIGURATION


class SchemaBehindError(RuntimeError):
    """The database exists but its schema is older than this version of hanoinet."""

    error_kind: ClassVar[ErrorKind] = CONFIGURATION


def pack_paths(settings: Settings) -> list[Path]:
    """Return the shipped packs, then any pack files an operator placed in ``DATA_DIR/packs`` (later ones win)."""
    local = settings.data_dir / "packs"
    extra = sorted(local.glob("*.yaml")) if local.is_dir() else []
    return [*builtin_pack_paths(), *extra]


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory, readable by the node's user only: it will hold evidence and keys."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


def open_database(settings: Settings, *, initialise: bool = True) -> Engine:
    """Open the database; create its schema if it has none; refuse to run on an outdated schema."""
    prepare_data_dir(settings)
    engine = make_engine(settings.effective_database_url)
    head = migrations.head()
    revision = migrations.current(engine)
    if revision is None and initialise:
        migrations.upgrade(engine)
    elif revision != head:
        engine.dispose()
        raise SchemaBehindError(
            f"the database schema is at {revision}, this hanoinet needs {head}: run 'hanoinet db upgrade'"
        )
    return engine


def profile(settings: Settings, endpoint: str | None = None) -> NodeProfile:
    """How the node describes itself in its directory entry, from the settings."""
    return NodeProfile(
        authority=settings.node_name,
        roles=tuple(NodeRole(r) for r in settings.node_roles.split(",")),
        languages=tuple(x.strip() for x in settings.node_languages.split(",") if x.strip()),
        hours=settings.node_hours,
        endpoint=settings.node_endpoint or endpoint or "http://127.0.0.1:8000",
    )


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None, endpoint: str | None = None) -> Node:
    """Build a node from settings: packs validated, database ready, keys loaded, real clock.

    ``endpoint`` is where ``serve`` listens, used in the directory entry unless HANOINET_NODE_ENDPOINT says otherwise.
    """
    settings = settings or Settings()
    catalog = load_catalog()
    if settings.node_state and not catalog.is_known(settings.node_state):
        raise InvalidSettingError(
            f"HANOINET_NODE_STATE: unknown State {settings.node_state!r}; use an ISO 3166 alpha-3 code"
        )
    packs = load_packs(pack_paths(settings))
    engine = engine or open_database(settings)
    factory = session_factory(engine)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(factory)

    prepare_data_dir(settings)
    keys = ensure_keys(settings.data_dir / "keys")
    wall = SystemClock()
    clock: SystemClock | ScaledClock = wall
    if settings.clock_speed != 1.0:
        clock = ScaledClock(settings.clock_epoch or datetime.now(UTC), settings.clock_speed)
    return Node(
        uow=uow,
        packs=packs,
        catalog=catalog,
        clock=clock,
        node_state=settings.node_state,
        vault=BlobStore(settings.data_dir / "vault", keys.master_key),
        signer=keys,
        exporter=FileExporter(keys, settings.node_name, settings.node_state or "node"),
        name=settings.node_name,
        identity=JoseIdentity(settings.data_dir / "keys", settings.node_id, settings.node_state),
        profile=profile(settings, endpoint),
        federation=FederationSettings(
            window=timedelta(seconds=settings.federation_window_seconds),
            batch_size=settings.federation_batch_size,
            backoff=Backoff(cap=timedelta(seconds=settings.federation_retry_max_seconds)),
            refusals=RefusalLimits(
                rate=settings.federation_refusal_rate,
                burst=settings.federation_refusal_burst,
                cap=settings.federation_refusal_record_cap,
                total=settings.federation_refusal_record_total,
                window=timedelta(seconds=settings.federation_refusal_window_seconds),
                sources=settings.federation_refusal_sources,
            ),
            allow_private_peers=settings.allow_private_peers,
            directory_urls=tuple(u.strip().rstrip("/") for u in settings.directory_urls.split(",") if u.strip()),
            max_answer_bytes=settings.federation_max_answer_bytes,
        ),
        documents=DocumentSettings(
            key_dir=settings.data_dir / "keys",
            letterhead="\n".join(x.strip() for x in settings.document_letterhead.replace(" | ", "\n").splitlines()),
            signatory=settings.document_signatory,
            location=settings.document_location,
            tsa_url=settings.document_tsa_url or None,
        ),
        wall_clock=wall,
        passwords=Argon2Hasher(
            concurrent=settings.password_checks_concurrent, waiting=settings.password_checks_waiting
        ),
        sign_in=SignInThrottle(
            ThrottlePolicy(
                free_per_pair=settings.login_free_per_pair,
                free_per_address=settings.login_free_per_address,
                free_per_account=settings.login_free_per_account,
                first_delay=settings.login_first_delay_seconds,
                max_delay=settings.login_max_delay_seconds,
                forget_after=settings.login_forget_seconds,
                max_tracked=settings.login_max_tracked,
            )
        ),
    )


def upload_store(settings: Settings) -> UploadStore:
    """Where resumable API uploads wait until they are complete."""
    return UploadStore.for_node(settings)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory units of work are made from."""
    return sessionmaker(bind=engine, expire_on_commit=False)
