"""What the vault answers: the results of its operations (``StoredBlob``, ``SealedBlob``, ``BlobCheck`` and the
``BlobProblem`` findings it lists) and its errors (``VaultError`` and its kinds).

Kept apart from the engine because every part of it raises or returns these (ingest, reading, the sealed
transfer, the store), and because they are the vocabulary its callers catch and show (the API, the CLI,
downloads): plain dataclasses and exceptions, with no I/O and no cryptography. The errors of the sealed transfer
also carry the port-level kinds (``ChunkRefused``, ``AssemblyInUse``, …) that the federation code catches without
knowing the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from hanoinet.evidence.ports import AssemblyDamaged, AssemblyInUse, ChunkRefused, ContentMismatch, SealedContent
from hanoinet.platform.errors import DAMAGED, VAULT_UNAVAILABLE, ErrorKind


class VaultError(Exception):
    """Base class of the vault's errors."""

    error_kind: ClassVar[ErrorKind] = VAULT_UNAVAILABLE


class VaultWriteError(VaultError):
    """Content could not be stored (disk full, I/O error, …); nothing was left in the vault."""


class BlobCorrupt(VaultError):  # noqa: N818 - the name the service layer and API use
    """Stored content is damaged or cannot be authenticated; ``chunk`` says where, if it is one chunk.

    Raised by ``open_stream`` the moment a problem shows: bytes already yielded came from chunks that authenticated,
    but the content as a whole is trustworthy only if the stream ends without this error.
    """

    error_kind: ClassVar[ErrorKind] = DAMAGED

    def __init__(self, sha256: str, reason: str, *, chunk: int | None = None, kind: ProblemKind | None = None) -> None:
        self.sha256 = sha256
        self.reason = reason
        self.chunk = chunk
        self.kind = kind
        super().__init__(f"blob {sha256}: {reason}")


class BlobMissing(BlobCorrupt):
    """No blob with this hash is stored (for a reader that expected it, a form of corruption)."""


class ChunkRejected(VaultError, ChunkRefused):  # noqa: N818 - the name the transfer protocol uses
    """A received record is not chunk ``index`` of the promised blob (malformed, altered, misplaced or foreign);
    ``reason`` says which."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"chunk {index} rejected: {reason}")


class AssemblyBusy(VaultError, AssemblyInUse):  # noqa: N818 - the name the transfer protocol uses
    """The assembly is open elsewhere: another process, or another object in this one, holds its lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"assembly {name} is in use elsewhere (another process or object holds its lock)")


class AssemblyCorrupt(VaultError, AssemblyDamaged):  # noqa: N818 - like BlobCorrupt
    """An assembly's file cannot be resumed (its header is cut short or does not authenticate): discard it with
    ``BlobStore.discard_assembly`` and start the transfer again."""

    def __init__(self, name: str, reason: str, *, kind: ProblemKind) -> None:
        self.name = name
        self.reason = reason
        self.kind = kind
        super().__init__(f"assembly {name}: {reason}")


class AssemblyMismatch(VaultError, ContentMismatch):  # noqa: N818 - the name the transfer protocol uses
    """What was assembled is not what was promised (size or SHA-256), or the assembly under this name was started
    with another chunk size."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"assembly {name}: {reason}")


class ProblemKind(StrEnum):
    """What can be wrong with a stored blob."""

    MISSING = "missing"
    BAD_HEADER = "bad header"
    CHUNK_FAILED = "chunk failed authentication"
    TRUNCATED = "truncated"
    EXTRA_DATA = "extra data"
    SIZE_MISMATCH = "size mismatch"
    HASH_MISMATCH = "hash mismatch"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class BlobProblem:
    """One thing wrong with a blob; ``chunk`` is the chunk index when the problem is in one chunk."""

    kind: ProblemKind
    message: str
    chunk: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class StoredBlob:
    """Content the vault holds. ``deduplicated`` is true when identical content was already stored (this ingest
    added nothing); ``hashes`` maps each algorithm name to its hex digest, SHA-256 always included."""

    sha256: str
    size: int
    hashes: dict[str, str]
    chunk_size: int
    chunks: int
    deduplicated: bool
    path: Path


SealedBlob = SealedContent
"""What a receiver needs to authenticate a stored blob's records as they arrive (see ``RecordOpener``): the port's
value, under the vault's name for it, so that the federation builds the same one from an offer."""


@dataclass(frozen=True)
class BlobCheck:
    """The outcome of ``verify``: every problem found, in file order, and what could be established."""

    sha256: str
    findings: tuple[BlobProblem, ...]
    size: int | None = None
    """Content bytes, when the blob's framing is complete (its authenticated last chunk was found)."""
    chunks: int = 0
    """Chunk records examined."""
    chunk_size: int | None = None
    computed_sha256: str | None = None
    """SHA-256 of the decrypted content, when every chunk authenticated."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.findings

    @property
    def problems(self) -> tuple[str, ...]:
        """The findings as sentences, for people and for the custody record."""
        return tuple(p.message for p in self.findings)

    @property
    def failed_chunks(self) -> tuple[int, ...]:
        """Indices of the chunks that failed authentication."""
        return tuple(p.chunk for p in self.findings if p.kind is ProblemKind.CHUNK_FAILED and p.chunk is not None)
