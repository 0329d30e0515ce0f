"""The certificate a node signs its formal documents with: self-issued and bound to its key, or the authority's own.

A signed PDF must be checkable by anyone: by poppler's ``pdfsig`` or Adobe Reader at an authority that runs no
node, by pyHanko, by another node. Readers of PDF signatures understand RSA and ECDSA; few understand Ed25519, the
node's federation key. So a node signs documents with a separate ECDSA P-256 key, in a certificate that its
Ed25519 federation key issues (a one-level chain: "node root" → "document signer"):

- the **node root** is a self-signed CA certificate of the node's federation signing key, the key its signed
  directory entry publishes; anyone holding that entry can rebuild the trust anchor and check the chain, no public
  CA needed;
- the **document signer** is the P-256 key's certificate, issued by the node root, for digital signatures and
  non-repudiation only.

When the federation key rotates, the chain is reissued under the new key (documents signed before still check
against the retired key, which the entry's history keeps). An authority with its own PKI imports a PKCS#12 file
instead (``hanoinet document certificate import``); its chain is then checked against that PKI, not the directory.

Key files live beside the node's other keys, 0600 (``platform.keys``); the private key never leaves the node.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pycountry
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from hanoinet.platform.errors import CONFIGURATION, INVALID_FILE, DomainError, ErrorKind
from hanoinet.platform.keys import read_private, write_private

if TYPE_CHECKING:
    from hanoinet.federation.ports import Identity

KEY_FILE = "document-signing.key"
CHAIN_FILE = "document-signing.pem"
ORIGIN_FILE = "document-signing.json"
ROOT_YEARS = 10
SIGNER_YEARS = 2
RENEW_BEFORE = timedelta(days=30)
"""A self-issued signer certificate is reissued this long before it expires, so that no document is signed late."""

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateError(DomainError):
    """The document-signing certificate cannot be used (a PKCS#12 file without a key, a wrong password...)."""

    error_kind: ClassVar[ErrorKind] = INVALID_FILE


class CertificateMissing(DomainError):  # noqa: N818 - reads as what is wrong
    """The node has no keys to sign with."""

    error_kind: ClassVar[ErrorKind] = CONFIGURATION


@dataclass(frozen=True)
class SigningCredentials:
    """The key documents are signed with and its chain, leaf first; ``repr`` shows no secret."""

    key: SigningKey
    chain: tuple[x509.Certificate, ...]
    self_issued: bool

    def __repr__(self) -> str:
        return f"SigningCredentials(subject={self.leaf.subject.rfc4514_string()!r}, self_issued={self.self_issued})"

    @property
    def leaf(self) -> x509.Certificate:
        """The signer's own certificate."""
        return self.chain[0]


def fingerprint(cert: x509.Certificate) -> str:
    """A certificate's SHA-256 fingerprint, hex: what pdfsig, pyHanko and browsers show."""
    return cert.fingerprint(hashes.SHA256()).hex()


def country_code(state: str | None) -> str | None:
    """The ISO 3166 alpha-2 code X.509's ``C`` takes, for a State's alpha-3 code (None if it has none)."""
    if not state:
        return None
    country = pycountry.countries.get(alpha_3=state.upper())
    return str(country.alpha_2) if country is not None else None


X509_NAME_BYTES = 64
"""The longest common or organization name X.509 takes (RFC 5280's ub-common-name), counted in UTF-8 bytes."""


def fit(text: str, limit: int = X509_NAME_BYTES) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, at a character boundary (an authority's name in
    Vietnamese, Arabic or Chinese takes two or three bytes a character)."""
    return text.encode()[:limit].decode(errors="ignore").strip() or "hanoinet"


def _name(common_name: str, authority: str, state: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, fit(common_name))]
    if authority:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit(authority)))
    code = country_code(state)
    if code:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, code))
    return x509.Name(attributes)


def _usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certificates,
        content_commitment=not sign_certificates,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def issue(identity: Identity, *, authority: str, state: str | None, now: datetime) -> SigningCredentials:
    """A fresh self-issued chain: the node root of ``identity``'s signing key, and a new P-256 signer under it."""
    root_public = identity.signing_key
    root_key = ed25519.Ed25519PublicKey.from_public_bytes(_raw_ed25519(root_public.jwk))
    root_name = _name(f"hanoinet node {identity.node_id}", authority, state)
    root = identity.issue_certificate(
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key), critical=False)
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = identity.issue_certificate(
        x509.CertificateBuilder()
        .subject_name(_name(f"{authority or identity.node_id} (documents)", authority, state))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certificates=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return SigningCredentials(key, (signer, root), self_issued=True)


def _raw_ed25519(jwk: Mapping[str, Any]) -> bytes:
    """The raw public key of an OKP/Ed25519 JWK (RFC 8037), as X.509 takes it."""
    x = str(jwk.get("x", ""))
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))


def root_public_raw(cert: x509.Certificate) -> bytes | None:
    """The raw Ed25519 key of a node root certificate (None if the certificate holds another kind of key)."""
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def save(key_dir: Path, credentials: SigningCredentials) -> None:
    """Write the key (0600), the chain and where it came from, each replacing the old file atomically."""
    key_pem = credentials.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(key_dir / KEY_FILE, key_pem)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in credentials.chain)
    write_private(key_dir / CHAIN_FILE, chain)
    write_private(key_dir / ORIGIN_FILE, json.dumps({"self_issued": credentials.self_issued}).encode())


def load(key_dir: Path) -> SigningCredentials | None:
    """The stored credentials, or None if the node has none yet."""
    if not (key_dir / KEY_FILE).exists():
        return None
    key = serialization.load_pem_private_key(read_private(key_dir / KEY_FILE), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError(f"{key_dir / KEY_FILE} holds neither an ECDSA nor an RSA key")
    chain = tuple(x509.load_pem_x509_certificates(read_private(key_dir / CHAIN_FILE)))
    origin = json.loads(read_private(key_dir / ORIGIN_FILE))
    return SigningCredentials(key, chain, self_issued=bool(origin.get("self_issued")))


def current(
    key_dir: Path, identity: Identity | None, *, authority: str, state: str | None, now: datetime
) -> SigningCredentials:
    """The credentials to sign with now: the imported ones; else the self-issued chain, reissued when it is missing,
    about to expire, or issued by a key that is no longer the node's (after a rotation)."""
    stored = load(key_dir)
    if stored is not None and not stored.self_issued:
        return stored
    if identity is None:
        raise CertificateMissing("this node has no federation keys to sign documents with: run 'hanoinet init'")
    wanted_root = _raw_ed25519(identity.signing_key.jwk)
    if (
        stored is not None
        and len(stored.chain) > 1
        and root_public_raw(stored.chain[-1]) == wanted_root
        and stored.leaf.not_valid_after_utc - RENEW_BEFORE > now
    ):
        return stored
    fresh = issue(identity, authority=authority, state=state, now=now)
    save(key_dir, fresh)
    return fresh


def import_pkcs12(key_dir: Path, data: bytes, password: str | None) -> SigningCredentials:
    """Take the authority's own certificate and key from a PKCS#12 file (.p12/.pfx) and sign with them from now on.

    The key must be ECDSA or RSA (what every PDF reader checks); the file's other certificates form the chain."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        raise CertificateError(
            "the PKCS#12 file cannot be opened: wrong password, or not a PKCS#12 file (.p12, .pfx)"
        ) from None
    if key is None or cert is None:
        raise CertificateError("the PKCS#12 file holds no private key with its certificate")
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError("the PKCS#12 key is neither ECDSA nor RSA, which PDF readers check")
    credentials = SigningCredentials(key, (cert, *extra), self_issued=False)
    save(key_dir, credentials)
    return credentials
