"""The node's keys: the vault master key and the Ed25519 signing key, created once by ``hanoinet init``.

Keys are files in ``DATA_DIR/keys`` readable by the node's user only (0600, directory 0700), created atomically
(written to a temporary file, fsynced, then linked into place so two processes starting together cannot create
two different keys). They are never logged, never put in an exception message and never returned by any API:
only the public key leaves the node.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MASTER_KEY_FILE = "vault-master.key"
SIGNING_KEY_FILE = "node-signing.pem"
MASTER_KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable, of the wrong size or too widely readable."""


def _create_exclusive(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` only if it does not exist yet, durably, mode 0600."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_private(path: Path) -> bytes:
    if not path.exists():
        raise KeyFileError(f"{path} is missing: run 'hanoinet init' to create the node's keys")
    if path.stat().st_mode & 0o077:
        raise KeyFileError(f"{path} is readable by other users: chmod 600 it (and check who has read it)")
    return path.read_bytes()


@dataclass(frozen=True)
class NodeKeys:
    """The node's secret keys, loaded in memory; ``repr`` shows no secret."""

    master_key: bytes
    signing_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"NodeKeys(public={self.public_key_hex()})"

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` by this node."""
        return self.signing_key.sign(message)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is this node's signature of ``message``."""
        return verify_signature(self.public_key(), signature, message)

    def public_key(self) -> Ed25519PublicKey:
        """The public half, which others use to check this node's signatures."""
        return self.signing_key.public_key()

    def public_key_hex(self) -> str:
        """The raw public key as hex."""
        return self.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    def public_key_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo), the form OpenSSL reads."""
        return self.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def ensure_keys(key_dir: Path) -> NodeKeys:
    """Load the node's keys, creating any that do not exist yet."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_dir.chmod(0o700)
    master = key_dir / MASTER_KEY_FILE
    signing = key_dir / SIGNING_KEY_FILE
    if not master.exists():
        _create_exclusive(master, secrets.token_bytes(MASTER_KEY_BYTES))
    if not signing.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _create_exclusive(signing, pem)
    return load_keys(key_dir)


def load_keys(key_dir: Path) -> NodeKeys:
    """Load the node's keys; raise KeyFileError (never echoing key material) if they are unusable."""
    master = _read_private(key_dir / MASTER_KEY_FILE)
    if len(master) != MASTER_KEY_BYTES:
        raise KeyFileError(f"{key_dir / MASTER_KEY_FILE} has the wrong length for a 256-bit key")
    try:
        key = serialization.load_pem_private_key(_read_private(key_dir / SIGNING_KEY_FILE), password=None)
    except ValueError:
        raise KeyFileError(f"{key_dir / SIGNING_KEY_FILE} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{key_dir / SIGNING_KEY_FILE} is not an Ed25519 key")
    return NodeKeys(master_key=master, signing_key=key)
