"""Evidence content as an HTTP download, the same for the API and the web UI: a safe file name, the length, the
SHA-256 for the client to check, and a connection cut short rather than completed if the content is damaged."""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from hanoinet.evidence.domain import EvidenceItem
from hanoinet.evidence.vault import BlobCorrupt
from hanoinet.platform.errors import DAMAGED, ErrorKind

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class StreamCutError(RuntimeError):
    """A download found damaged content after its headers were sent; the only honest answer is to cut it."""

    error_kind: ClassVar[ErrorKind] = DAMAGED


def attachment(name: str) -> str:
    """A Content-Disposition that saves a file under ``name`` and cannot be turned against the browser or the
    examiner's disk: an ASCII fallback of letters, digits and ``._-`` only (no quote, separator or control
    character), and the name itself percent-encoded in ``filename*`` without path separators or controls."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    cleaned = cleaned.replace("/", "_").replace("\\", "_").strip(" .") or "evidence.bin"
    ascii_name = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_NAME.sub("_", ascii_name).strip("._")[:150] or "evidence.bin"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(cleaned[:255], safe='')}"


def content_response(item: EvidenceItem, stream: Iterator[bytes]) -> StreamingResponse:
    """The content of an item, as a file: its length, its SHA-256 in ``Repr-Digest`` for the client to check, and
    a connection cut short (never completed) if the vault finds damage once the headers are sent."""
    digest = base64.b64encode(bytes.fromhex(item.sha256)).decode()

    def body() -> Iterator[bytes]:
        try:
            yield from stream
        except BlobCorrupt as exc:
            raise StreamCutError(f"download of item {item.id} cut: its content is damaged: {exc}") from None

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(item.size),
            "Repr-Digest": f"sha-256=:{digest}:",
            "Content-Disposition": attachment(item.described.file_name or f"{item.described.exhibit}.bin"),
        },
    )
