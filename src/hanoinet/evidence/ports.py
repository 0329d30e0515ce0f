"""What the evidence services need: item records, the custody ledger, the blob vault and its sealed form, exporters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol

from hanoinet.evidence.domain import Checkpoint, CustodyEvent, EvidenceItem, VerifiedMark
from hanoinet.platform.chain import HashChain
from hanoinet.platform.errors import MISMATCH, ErrorKind


class EvidenceRepository(Protocol):
    """Evidence items (their content is in the vault)."""

    def add(self, item: EvidenceItem) -> None:
        """Stage a new item."""

    def get(self, item_id: str) -> EvidenceItem | None:
        """Return the item with this id, or None if there is none."""

    def by_exhibit(self, case_id: str, exhibit: str) -> EvidenceItem | None:
        """Return the case's item with this exhibit number, or None."""

    def list(self, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
        """Return items, newest first."""

    def all(self) -> Iterator[EvidenceItem]:
        """Every item, oldest first, for verification."""

    def live_with_content(self, sha256: str) -> int:
        """Count the items not disposed of that share this content."""

    def expired(self, today: date) -> Sequence[EvidenceItem]:
        """Items whose retention ended before ``today`` and that are not disposed of."""

    def mark_disposed(self, item_id: str, at: datetime) -> None:
        """Record that the item's content was destroyed."""


class Ledger(HashChain[CustodyEvent], Protocol):
    """The hash-chained custody ledger."""

    def history(self, item_id: str) -> Sequence[CustodyEvent]:
        """Every event about one item, in order."""

    def events(self) -> Sequence[CustodyEvent]:
        """Every event, in order."""

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Stage a signed checkpoint."""

    def checkpoints(self) -> Sequence[Checkpoint]:
        """Every checkpoint, in order."""

    def events_after(self, seq: int) -> Sequence[CustodyEvent]:
        """The events after ``seq``, in order (all of them after 0)."""

    def event(self, seq: int) -> CustodyEvent | None:
        """The event ``seq``, or None if there is none."""

    def checkpoints_after(self, seq: int) -> Sequence[Checkpoint]:
        """The checkpoints of the events after ``seq``, in order."""

    def checkpoints_of(self, seqs: Iterable[int]) -> Sequence[Checkpoint]:
        """The checkpoints of these events (an item's), in order."""

    def verified(self) -> VerifiedMark:
        """How far the ledger was last found whole (the genesis, unsigned, before any verify)."""

    def mark_verified(self, mark: VerifiedMark) -> None:
        """Stage a new verified mark; a mark behind the one recorded is ignored (it only moves forward)."""


class StoredContent(Protocol):
    """What the vault says about content it has stored."""

    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def hashes(self) -> Mapping[str, str]: ...
    @property
    def deduplicated(self) -> bool: ...


class ContentCheck(Protocol):
    """The vault's verdict on stored content."""

    @property
    def ok(self) -> bool: ...
    @property
    def problems(self) -> Sequence[str]: ...


class Vault(Protocol):
    """Encrypted, content-addressed, write-once storage of evidence content."""

    def ingest(
        self,
        source: BinaryIO,
        *,
        extra_hashes: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> StoredContent:
        """Store a stream durably, in constant memory; identical content is stored once."""

    def open_stream(self, sha256: str) -> Iterator[bytes]:
        """Yield the decrypted content, verified on the fly; raise on the first sign of corruption."""

    def verify(
        self, sha256: str, *, size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> ContentCheck:
        """Recompute everything about stored content and say exactly what is wrong."""

    def exists(self, sha256: str) -> bool:
        """True if content with this hash is stored."""

    def destroy(self, sha256: str) -> None:
        """Destroy content for good (its data key with it)."""


@dataclass(frozen=True)
class SealedContent:
    """What a receiving node needs to check stored content sent verbatim, record by record: the blob's data key,
    nonce prefix, header hash and chunk size, and how many records it has. One value for both sides: the vault
    gives it for its own blobs (``seal_info``, where it is called ``SealedBlob``), a receiver rebuilds it from
    an offer's secrets. The data key opens the content: it travels only inside an encrypted message, and never
    shows in a ``repr`` or a log."""

    sha256: str
    chunk_size: int
    records: int
    nonce_prefix: bytes
    header_hash: bytes
    data_key: bytes = field(repr=False)


class ChunkOpener(Protocol):
    """Authenticates and decrypts the records of one sealed blob."""

    @property
    def chunk_size(self) -> int:
        """Plaintext bytes per record at most: a record stating more is refused before it is read."""

    def open(self, index: int, record: bytes | memoryview) -> tuple[bytes | memoryview, bool]:
        """Return (plaintext, is_last) of record ``index``; raise ChunkRefused if it does not authenticate."""


class Assembly(Protocol):
    """A blob being written chunk by chunk across restarts, from its verified prefix."""

    @property
    def chunks_done(self) -> int: ...
    @property
    def size_done(self) -> int: ...
    @property
    def complete(self) -> bool: ...

    def append(self, plaintext: bytes | memoryview, *, last: bool) -> None:
        """Hash, encrypt and write the next chunk."""

    def sync(self) -> None:
        """Make what is written durable."""

    def finish(self, expected_sha256: str, expected_size: int) -> StoredContent:
        """Check the whole against what was promised and store it; raise ContentMismatch otherwise."""

    def close(self) -> None:
        """Stop, keeping the file for a later resume."""

    def discard(self) -> None:
        """Stop and delete the file."""


class ChunkRefused(Exception):  # noqa: N818 - names the outcome
    """A chunk that does not authenticate (altered, misplaced, from another blob); ``index`` says which."""

    index: int


class AssemblyInUse(Exception):  # noqa: N818 - names the outcome
    """Another writer holds this assembly."""


class AssemblyDamaged(Exception):  # noqa: N818 - names the outcome
    """An assembly cannot be resumed (its header is damaged): discard it and start again."""


class ContentMismatch(Exception):  # noqa: N818 - names the outcome
    """The assembled content is not what the manifest promised (hash or size)."""

    error_kind: ClassVar[ErrorKind] = MISMATCH


class SealedVault(Protocol):
    """The vault's side of evidence transfers: stored records sent verbatim, received ones re-sealed here."""

    def seal_info(self, sha256: str) -> SealedContent:
        """The framing and data key of stored content (the key only ever leaves encrypted to a receiver)."""

    def read_records(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """The stored records from ``start`` on, as stored."""

    def opener(self, sealed: SealedContent) -> ChunkOpener:
        """A checker for records of a blob sealed elsewhere."""

    def assembly(self, name: str, chunk_size: int) -> Assembly:
        """Create, or resume from its verified prefix, the assembly called ``name``."""

    def discard_assembly(self, name: str) -> bool:
        """Delete an assembly that cannot be opened; True if there was one."""


@dataclass(frozen=True)
class PackageOrder:
    """What a court package is to hold: the items, each with a way to stream its decrypted content (None: its record
    only, e.g. disposed of), their complete custody and the node's checkpoints, and the case, exporter and time it
    states. One value for what the export service asks of an exporter, rather than seven arguments passed on."""

    items: Sequence[tuple[EvidenceItem, Callable[[], Iterable[bytes]] | None]]
    events: Sequence[CustodyEvent]
    checkpoints: Sequence[Checkpoint]
    case_reference: str
    exported_by: str
    exported_at: datetime


class Exporter(Protocol):
    """Court packages and CASE/UCO graphs, signed by the node."""

    def court_package(self, dest: Path, order: PackageOrder) -> Path:
        """Write a package a court can check with outside tools; nothing is left at ``dest`` on failure."""

    def case_graph(
        self, items: Sequence[EvidenceItem], events: Sequence[CustodyEvent], *, case_reference: str
    ) -> dict[str, Any]:
        """Return the items and their custody as CASE/UCO JSON-LD."""
