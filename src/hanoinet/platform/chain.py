"""The port of a hash chain: an append-only log whose every entry names the hash of the one before it.

The audit log and the custody ledger are both such a chain, appended one writer at a time under a lock on a head
row (its sequence number and hash): the part of their ports that says so is this one protocol, so that the two
cannot come to mean different things by the same method.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

Entry_contra = TypeVar("Entry_contra", contravariant=True)


class HashChain(Protocol[Entry_contra]):
    """A hash chain of ``Entry_contra`` (audit entries, custody events), appended under a lock on its head row."""

    def lock_head(self) -> tuple[int, str]:
        """Take the chain's write lock for this transaction; return its head's sequence number and hash."""

    def append(self, entry: Entry_contra) -> None:
        """Stage an entry that follows the head, and move the head; raise Conflict if the head moved."""

    def head_row(self) -> tuple[int, str]:
        """The sequence number and hash the head row records."""
