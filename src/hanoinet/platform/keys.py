"""The node's keys: the vault master key, the custody-ledger signing key and the federation keys (``hanoinet init``).

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
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from hanoinet.platform.errors import CONFIGURATION, ErrorKind

MASTER_KEY_FILE = "vault-master.key"
SIGNING_KEY_FILE = "node-signing.pem"
MASTER_KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable, of the wrong size or too widely readable."""

    error_kind: ClassVar[ErrorKind] = CONFIGURATION


def _temporary(path: Path, data: bytes) -> Path:
    """A new file beside ``path`` holding ``data``, durably, mode 0600 (to be linked or moved into place)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _sync_directory(path: Path) -> None:
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _create_exclusive(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` only if it does not exist yet, durably, mode 0600."""
    tmp = _temporary(path, data)
    try:
        os.link(tmp, path)  # fails if another process created the key first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    _sync_directory(path)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, replacing any earlier file atomically and durably, mode 0600: for key files
    that are replaced (a reissued certificate, an imported one), where ``_create_exclusive`` keeps the first."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _temporary(path, data).replace(path)
    _sync_directory(path)


def read_private(path: Path) -> bytes:
    """The bytes of a key file, refused if it is missing or readable by other users."""
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
    master = read_private(key_dir / MASTER_KEY_FILE)
    if len(master) != MASTER_KEY_BYTES:
        raise KeyFileError(f"{key_dir / MASTER_KEY_FILE} has the wrong length for a 256-bit key")
    try:
        key = serialization.load_pem_private_key(read_private(key_dir / SIGNING_KEY_FILE), password=None)
    except ValueError:
        raise KeyFileError(f"{key_dir / SIGNING_KEY_FILE} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{key_dir / SIGNING_KEY_FILE} is not an Ed25519 key")
    return NodeKeys(master_key=master, signing_key=key)


# --------------------------------------------------------------------------------------------------------------
# Federation keys: the node's identity towards other nodes


NODE_ID_FILE = "node-id"
FEDERATION_DIR = "federation"
FED_SIGNING_FILE = "signing.pem"
FED_ENCRYPTION_FILE = "encryption.pem"
RETIRED_DIR = "retired"


@dataclass(frozen=True)
class FederationKeys:
    """The node's federation identity: its id, an Ed25519 key that signs messages and directory entries, an X25519
    key others encrypt to, and earlier encryption keys kept to open messages sent before a rotation reached them.

    Separate from the custody-ledger key on purpose: these keys rotate (and may be revoked) as the network
    requires, while ledger checkpoints must stay verifiable with one key for as long as the evidence is kept.
    """

    node_id: str
    signing: bytes  # PEM, PKCS#8
    encryption: bytes
    retired_encryption: tuple[bytes, ...] = ()
    retired_signing_public: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        return f"FederationKeys(node_id={self.node_id!r})"


def _pem_of(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem_of(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        raise KeyFileError("a federation key file holds a key of the wrong type")
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_node_id(state: str | None) -> str:
    """A fresh node id: the State's code and a random part, readable in logs and unique without coordination."""
    return f"{(state or 'node').lower()}-{secrets.token_hex(4)}"


def ensure_federation_keys(key_dir: Path, node_id: str | None = None, state: str | None = None) -> FederationKeys:
    """Load the node's federation keys, creating the node id and any missing key.

    ``node_id`` (from the settings) names the node when it is created; afterwards it must match the stored one,
    because other nodes know this node by it.
    """
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fed = key_dir / FEDERATION_DIR
    fed.mkdir(mode=0o700, exist_ok=True)
    id_file = key_dir / NODE_ID_FILE
    if not id_file.exists():
        _create_exclusive(id_file, (node_id or new_node_id(state)).encode())
    if not (fed / FED_SIGNING_FILE).exists():
        _create_exclusive(fed / FED_SIGNING_FILE, _pem_of(Ed25519PrivateKey.generate()))
    if not (fed / FED_ENCRYPTION_FILE).exists():
        _create_exclusive(fed / FED_ENCRYPTION_FILE, _pem_of(X25519PrivateKey.generate()))
    keys = load_federation_keys(key_dir)
    if node_id is not None and node_id != keys.node_id:
        raise KeyFileError(
            f"HANOINET_NODE_ID is {node_id!r} but this node was created as {keys.node_id!r}: a node's id never "
            "changes (other nodes know it by it); unset the setting or use that id"
        )
    return keys


def load_federation_keys(key_dir: Path) -> FederationKeys:
    """Load the federation keys; raise KeyFileError (never echoing key material) if they are unusable."""
    node_id = read_private(key_dir / NODE_ID_FILE).decode().strip()
    fed = key_dir / FEDERATION_DIR
    signing = read_private(fed / FED_SIGNING_FILE)
    encryption = read_private(fed / FED_ENCRYPTION_FILE)
    retired = fed / RETIRED_DIR
    old_enc = tuple(read_private(p) for p in sorted(retired.glob("*-encryption.pem"))) if retired.is_dir() else ()
    old_sig = tuple(p.read_bytes() for p in sorted(retired.glob("*-signing.pub.pem"))) if retired.is_dir() else ()
    for name, pem, kind in (
        (FED_SIGNING_FILE, signing, Ed25519PrivateKey),
        (FED_ENCRYPTION_FILE, encryption, X25519PrivateKey),
    ):
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError:
            raise KeyFileError(f"{fed / name} is not a PEM private key") from None
        if not isinstance(key, kind):
            raise KeyFileError(f"{fed / name} is not an {kind.__name__.removesuffix('PrivateKey')} key")
    return FederationKeys(node_id, signing, encryption, old_enc, old_sig)


def rotate_federation_keys(key_dir: Path, label: str) -> FederationKeys:
    """Replace the federation keys with new ones; keep the old encryption key (to open messages already on their
    way) and the old signing key's public half (to check what it signed), under ``retired/``.

    ``label`` names the retired files (the old keys' ids). Each step leaves a usable set of keys: the retired
    copies are written before the current files are replaced, and each replacement is an atomic rename.
    """
    current = load_federation_keys(key_dir)
    fed = key_dir / FEDERATION_DIR
    retired = fed / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    for name, data in (
        (f"{label}-encryption.pem", current.encryption),
        (f"{label}-signing.pub.pem", _public_pem_of(current.signing)),
    ):
        if not (retired / name).exists():
            _create_exclusive(retired / name, data)
    for name, key in (
        (FED_SIGNING_FILE, Ed25519PrivateKey.generate()),
        (FED_ENCRYPTION_FILE, X25519PrivateKey.generate()),
    ):
        staged = fed / f".{name}.{secrets.token_hex(6)}.new"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, _pem_of(key))
            os.fsync(fd)
        finally:
            os.close(fd)
        staged.replace(fed / name)
    dir_fd = os.open(fed, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return load_federation_keys(key_dir)
