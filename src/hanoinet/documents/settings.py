"""What a node's documents say of the authority and where they are signed (``HANOINET_DOCUMENT_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DocumentSettings:
    """The letterhead and signature block of the node's formal documents, and how they are signed."""

    key_dir: Path | None = None
    """Where the document-signing key and its chain live (``DATA_DIR/keys``); None: the node cannot sign."""
    letterhead: str = ""
    """Lines under the authority's name at the top of each document (address, telephone, e-mail)."""
    signatory: str = ""
    """The name and title printed in the signature block (the person the authority designates)."""
    location: str = ""
    """Where documents are signed (the signature's location field, e.g. "Hanoi")."""
    tsa_url: str | None = None
    """An RFC 3161 time-stamping authority; where set, every signature carries its timestamp."""
