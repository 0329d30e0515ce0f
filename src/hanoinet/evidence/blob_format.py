"""The vault's blob file format, version 1, and the cryptography it is made of: a header that holds the blob's
data key wrapped by the master key (envelope encryption: ``_Envelope`` makes and authenticates headers), and chunk
records sealed with that data key (``_Header`` gives each record its nonce and AAD, ``_seal_into`` seals one).

Kept apart from the store because every part of the vault speaks it (ingest writes it, reading checks it, the
sealed transfer authenticates records with it) and it changes only with the format version, while the store's
file handling and the pipelines change for other reasons. It turns bytes into headers and records and back, and
does no file I/O.

Blob file format, version 1 (all integers big-endian)::

    header, 84 bytes
      0  magic          4   b"HNVB"
      4  version        2   1
      6  header length  2   84
      8  chunk size     4   plaintext bytes per chunk (every chunk but the last is exactly this long)
     12  nonce prefix   4   random, per blob
     16  key id         8   HMAC-SHA256(master key, "hanoinet vault key id v1")[:8]: which master key wrapped it
     24  wrap nonce    12   random
     36  wrapped key   48   AES-256-GCM(master key, wrap nonce, data key, AAD = header bytes 0..35):
                            the blob's fresh random 256-bit data key (32 bytes) and its tag (16 bytes)
    then one record per chunk, at least one (empty content is a single empty last chunk)
      0  length         4   plaintext bytes in this chunk (= chunk size unless last)
      4  flags          1   bit 0: last chunk; other bits zero
      5  ciphertext  length AES-256-GCM(data key, nonce, plaintext, AAD)
         tag           16
        nonce = nonce prefix (4) || chunk index (8)
        AAD   = SHA-256(header) (32) || chunk index (8) || the record's length and flags (5)

Why this shape: the data key lives only in the header, wrapped, so destroying the header destroys the content
(cryptographic erasure) and the master key never touches content. A fresh key per blob means nonces never repeat
under one key. The header hash in every chunk's AAD ties the chunks to their header; the index stops reordering;
the flags stop truncation at a chunk boundary (the last chunk is the only one that may say "last") and the clear
length lets ``verify`` tell truncation and appended bytes apart from altered bytes. Every header byte is
authenticated by the key unwrap (bytes 0..35 as its AAD, the wrapped key by its tag). Records sit at fixed
offsets (header + index x (chunk size + 21)), so one damaged chunk does not hide the state of the others.

The master key is used only to wrap and unwrap data keys, here; it is never stored in the clear, put in a
message, a ``repr`` or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hanoinet.evidence.blob_results import ProblemKind

MAGIC = b"HNVB"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024
"""Upper bound on the chunk size: the pipelines hold a few chunks in memory at once."""
MASTER_KEY_BYTES = 32

_HEADER = struct.Struct(">4sHHI4s8s12s48s")
HEADER_SIZE = _HEADER.size  # 84
_HEADER_FIELDS = struct.Struct(">4sHHI4s8s12s")  # what precedes the wrapped key, authenticated by the key wrap
_WRAP_AAD_END = _HEADER_FIELDS.size  # 36
_RECORD = struct.Struct(">IB")
_TAG = 16
RECORD_OVERHEAD = _RECORD.size + _TAG  # 21 bytes per chunk on disk: length, flags, tag
_LAST = 0x01
_INDEX = struct.Struct(">Q")
_KEY_ID_LABEL = b"hanoinet vault key id v1"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

_HAS_INTO = hasattr(AESGCM, "encrypt_into") and hasattr(AESGCM, "decrypt_into")
"""cryptography >= 46 encrypts and decrypts into a caller's buffer: no allocation per chunk."""


@dataclass(frozen=True)
class _Header:
    chunk_size: int
    nonce_prefix: bytes
    digest: bytes
    key: bytes = field(repr=False)  # the blob's data key: handed on only by ``seal_info``
    cipher: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cipher", AESGCM(self.key))

    def nonce(self, index: int) -> bytes:
        return self.nonce_prefix + _INDEX.pack(index)

    def aad(self, index: int, length: int, flags: int) -> bytes:
        return self.digest + _INDEX.pack(index) + _RECORD.pack(length, flags)


class _HeaderError(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _file_size_for(size: int, chunk_size: int) -> int:
    """The length of a well-formed blob file holding ``size`` content bytes."""
    chunks = max(1, -(-size // chunk_size))
    return HEADER_SIZE + chunks * RECORD_OVERHEAD + size


def _check_hex(sha256: str) -> str:
    """Refuse anything but 64 lowercase hex digits: the name becomes a path."""
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 in lowercase hex: {sha256!r}"[:120])
    return sha256


def _check_chunk_size(chunk_size: int) -> int:
    """Refuse a chunk size the format does not allow (the pipelines hold a few chunks in memory at once)."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be between 1 byte and {MAX_CHUNK_SIZE} bytes, not {chunk_size}")
    return chunk_size


def _seal_into(header: _Header, index: int, data: bytes | memoryview, *, last: bool, out: memoryview) -> int:
    """Encrypt one chunk as record ``index`` (length, flags, ciphertext, tag) into ``out``; return its length."""
    n = len(data)
    flags = _LAST if last else 0
    _RECORD.pack_into(out, 0, n, flags)
    end = RECORD_OVERHEAD + n
    nonce, aad = header.nonce(index), header.aad(index, n, flags)
    if _HAS_INTO:
        header.cipher.encrypt_into(nonce, data, aad, out[_RECORD.size : end])
    else:  # cryptography < 46: one allocation per chunk
        out[_RECORD.size : end] = header.cipher.encrypt(nonce, bytes(data), aad)
    return end


class _Envelope:
    """The master key's one use: wrapping each blob's fresh data key into its header, and unwrapping it again to
    authenticate a header. The key itself is kept only inside the AES-GCM object, never as an attribute."""

    def __init__(self, master_key: bytes) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != MASTER_KEY_BYTES:
            got = f"{len(master_key)} bytes" if isinstance(master_key, bytes | bytearray) else type(master_key).__name__
            raise ValueError(f"the vault master key must be {MASTER_KEY_BYTES} bytes, not {got}")
        self._wrapper = AESGCM(bytes(master_key))
        self._key_id = hmac.new(bytes(master_key), _KEY_ID_LABEL, hashlib.sha256).digest()[:8]

    def new_header(self, chunk_size: int) -> tuple[bytes, _Header]:
        """A fresh header: a new random data key, wrapped by the master key, and a new nonce prefix."""
        data_key = AESGCM.generate_key(bit_length=256)
        prefix, wrap_nonce = secrets.token_bytes(4), secrets.token_bytes(12)
        fields = _HEADER_FIELDS.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, chunk_size, prefix, self._key_id, wrap_nonce)
        raw = fields + self._wrapper.encrypt(wrap_nonce, data_key, fields)
        return raw, _Header(chunk_size, prefix, hashlib.sha256(raw).digest(), data_key)

    def parse_header(self, raw: bytes) -> _Header:
        """Authenticate a blob's header bytes (the key unwrap covers every byte); raise ``_HeaderError``."""
        if len(raw) < HEADER_SIZE:
            message = f"the file ends inside its header ({len(raw)} of {HEADER_SIZE} bytes)"
            raise _HeaderError(ProblemKind.TRUNCATED, message)
        magic, version, length, chunk_size, prefix, key_id, wrap_nonce, wrapped = _HEADER.unpack(raw)
        if magic != MAGIC:
            raise _HeaderError(ProblemKind.BAD_HEADER, "bad header: not a vault blob (wrong magic bytes)")
        if version != FORMAT_VERSION or length != HEADER_SIZE:
            message = f"bad header: format version {version}, header length {length} (this vault reads version 1)"
            raise _HeaderError(ProblemKind.BAD_HEADER, message)
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise _HeaderError(ProblemKind.BAD_HEADER, f"bad header: impossible chunk size {chunk_size}")
        try:
            data_key = self._wrapper.decrypt(wrap_nonce, wrapped, raw[:_WRAP_AAD_END])
        except InvalidTag:
            if hmac.compare_digest(key_id, self._key_id):
                message = "bad header: the data key does not unwrap (the header bytes were altered)"
            else:
                message = (
                    "bad header: the data key was wrapped by another master key"
                    f" (key id {key_id.hex()}, this vault's is {self._key_id.hex()}) or the key id bytes were altered"
                )
            raise _HeaderError(ProblemKind.BAD_HEADER, message) from None
        return _Header(chunk_size, prefix, hashlib.sha256(raw).digest(), data_key)
