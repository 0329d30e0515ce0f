"""JOSE for node-to-node messages, with joserfc: JWS (RFC 7515) signed with Ed25519 (RFC 9864 ``alg: Ed25519``),
JWE (RFC 7516) with ``ECDH-ES+A256KW`` / ``A256GCM`` on X25519 keys (RFC 8037), key ids as JWK thumbprints
(RFC 7638). No format of our own: any JOSE library can check what a node sent.

Shapes used:

- a **message** is a compact JWS (``typ: hanoinet-message+jws``), signed once by its sender when it is composed and
  kept as the proof of what was sent;
- a **transmission** is a compact JWE to the recipient's X25519 key whose plaintext is a compact JWS
  (``typ: hanoinet-batch+jws``) of the batch: its id, sender, recipient, time, and the message JWSs. Signed afresh
  on every attempt, so the time says when it was sent, and the id lets the receiver refuse a replay;
- a **receipt** has the same shape, sent back in the HTTP response;
- a **directory entry** is a JWS in General JSON Serialization, so that a rotated entry can carry two signatures:
  the new key's and the one it replaces.

Errors are ``EnvelopeRejected`` with a stable reason code (``malformed``, ``undecryptable``, ``bad_signature``);
keys never appear in messages, logs or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwe, jws
from joserfc.errors import DecodeError, ExceededSizeError, JoseError
from joserfc.jwk import KeySet, OKPKey

from hanoinet.federation.domain import TYP_SEALED, EnvelopeRejected, PublicKey
from hanoinet.platform.keys import FederationKeys, ensure_federation_keys, rotate_federation_keys, verify_signature

SIGNING_ALG = "Ed25519"
KEY_WRAP_ALG = "ECDH-ES+A256KW"
CONTENT_ENC = "A256GCM"
MAX_TRANSMISSION = 64 * 1024 * 1024
"""Largest JWE or JWS a node accepts (a batch of messages); bigger evidence moves as a chunked transfer."""


class _JWSRegistry(jws.JWSRegistry):
    max_payload_length = MAX_TRANSMISSION


class _JWERegistry(jwe.JWERegistry):
    max_ciphertext_length = MAX_TRANSMISSION


_JWS = _JWSRegistry(algorithms=[SIGNING_ALG])
_JWE = _JWERegistry(algorithms=[KEY_WRAP_ALG, CONTENT_ENC])


def _dumps(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def public_key_of(key: OKPKey) -> PublicKey:
    """The public JWK of a key, with its thumbprint as kid."""
    public = key.as_dict(private=False)
    return PublicKey(key.thumbprint(), {k: public[k] for k in ("kty", "crv", "x")})


def okp(public: PublicKey) -> OKPKey:
    """A joserfc key from a published JWK (its kid set, so that headers can name it)."""
    jwk = dict(public.jwk)
    if "d" in jwk:
        raise ValueError("a published key must be public")
    return _okp(public.kid, str(jwk.get("kty")), str(jwk.get("crv")), str(jwk.get("x")))


@functools.lru_cache(maxsize=1024)
def _okp(kid: str, kty: str, crv: str, x: str) -> OKPKey:
    """Importing a key and checking its thumbprint costs more than the signature check it serves: keep a few."""
    key = OKPKey.import_key({"kty": kty, "crv": crv, "x": x})
    if key.thumbprint() != kid:
        raise EnvelopeRejected("malformed", f"key id {kid} is not the thumbprint of its key")
    return OKPKey.import_key({"kty": kty, "crv": crv, "x": x}, parameters={"kid": kid})


def _private(pem: bytes) -> OKPKey:
    key = OKPKey.import_key(pem)
    return OKPKey.import_key(pem, parameters={"kid": key.thumbprint()})


def _segment(token: str, index: int, count: int) -> dict[str, Any]:
    """Decode the JSON of one part of a compact serialization, without checking anything else."""
    parts = token.split(".")
    if len(parts) != count:
        raise EnvelopeRejected("malformed", f"not a compact {'JWS' if count == 3 else 'JWE'} ({len(parts)} parts)")
    try:
        raw = base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise EnvelopeRejected("malformed", "a header or payload is not base64url JSON") from None
    if not isinstance(value, dict):
        raise EnvelopeRejected("malformed", "a header or payload is not a JSON object")
    return value


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return a compact JWS's header and payload WITHOUT verifying it: only to find the key that must verify it."""
    if len(token) > MAX_TRANSMISSION * 2:
        raise EnvelopeRejected("malformed", "the token is too large")
    return _segment(token, 0, 3), _segment(token, 1, 3)


def verify(token: str, key: PublicKey, typ: str) -> dict[str, Any]:
    """Verify a compact JWS with ``key`` and return its payload; raise EnvelopeRejected if it does not verify."""
    try:
        obj = jws.deserialize_compact(token, okp(key), registry=_JWS)
    except (DecodeError, ExceededSizeError):
        raise EnvelopeRejected("malformed", "the JWS cannot be parsed") from None
    except JoseError as exc:
        raise EnvelopeRejected(
            "bad_signature", f"the signature does not verify with key {key.kid} ({exc.error})"
        ) from None
    except ValueError:
        raise EnvelopeRejected("malformed", "the JWS cannot be parsed") from None
    header = obj.headers()
    if header.get("typ") != typ:
        raise EnvelopeRejected("malformed", f"expected a {typ}, got {header.get('typ')!r}")
    try:
        payload = json.loads(obj.payload)
    except ValueError:
        raise EnvelopeRejected("malformed", "the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise EnvelopeRejected("malformed", "the payload is not a JSON object")
    return payload


def encrypt_to(plaintext: bytes, recipient: PublicKey, typ: str, cty: str | None = None) -> str:
    """Encrypt ``plaintext`` to a node's X25519 key (compact JWE); ``cty`` names a nested JWS's type."""
    header = {"alg": KEY_WRAP_ALG, "enc": CONTENT_ENC, "kid": recipient.kid, "typ": typ}
    if cty:
        header["cty"] = cty
    return jwe.encrypt_compact(header, plaintext, okp(recipient), registry=_JWE)


def verify_document(
    document: Mapping[str, Any], candidates: Sequence[PublicKey]
) -> tuple[dict[str, Any], frozenset[str]]:
    """Verify a General JSON JWS signature by signature; return its payload and the kids whose signature holds.

    Signatures by keys not among ``candidates`` are ignored, not fatal: a rotated entry is signed by a new key the
    reader may not know yet, and by the old key it does know.
    """
    payload = document.get("payload")
    signatures = document.get("signatures")
    if not isinstance(payload, str) or not isinstance(signatures, list) or not signatures:
        raise EnvelopeRejected("malformed", "not a JWS General JSON Serialization (payload and signatures)")
    by_kid = {k.kid: k for k in candidates}
    verified: set[str] = set()
    for member in signatures:
        if not isinstance(member, dict) or not isinstance(member.get("protected"), str):
            raise EnvelopeRejected("malformed", "a signature has no protected header")
        header = _segment(f"{member['protected']}.e30.x", 0, 3)
        key = by_kid.get(str(header.get("kid")))
        if key is None:
            continue
        flattened: jws.FlattenedJSONSerialization = {
            "payload": payload,
            "protected": member["protected"],
            "signature": str(member.get("signature", "")),
        }
        try:
            jws.deserialize_json(flattened, okp(key), registry=_JWS)
        except JoseError:
            continue
        verified.add(key.kid)
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise EnvelopeRejected("malformed", "the payload is not base64url JSON") from None
    if not isinstance(body, dict):
        raise EnvelopeRejected("malformed", "the payload is not a JSON object")
    return body, frozenset(verified)


def document_payload(document: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a General JSON JWS, unverified: to read which node and keys it claims before verifying."""
    body, _ = verify_document(document, ())
    return body


class JoseIdentity:
    """The node's federation keys in JOSE form: it signs, seals to others, and opens what was sealed to it.

    Loaded from ``DATA_DIR/keys``; ``rotate`` replaces the keys on disk and in memory at once, under a lock, so
    that a running node never signs with one key and publishes another.
    """

    def __init__(self, key_dir: Path, node_id: str | None = None, state: str | None = None) -> None:
        self._dir = key_dir
        self._lock = threading.Lock()
        self._load(ensure_federation_keys(key_dir, node_id, state))

    def _load(self, keys: FederationKeys) -> None:
        self._node_id = keys.node_id
        self._signing_pem = keys.signing
        self._signing = _private(keys.signing)
        self._encryption = _private(keys.encryption)
        self._decryption = KeySet([self._encryption, *(_private(p) for p in keys.retired_encryption)])
        self.retired_signing = tuple(public_key_of(OKPKey.import_key(p)) for p in keys.retired_signing_public)

    def __repr__(self) -> str:
        return f"JoseIdentity(node_id={self.node_id!r}, signing={self.signing_key.kid})"

    @property
    def node_id(self) -> str:
        """This node's id in the directory."""
        return self._node_id

    @property
    def signing_key(self) -> PublicKey:
        """The current public signing key."""
        return public_key_of(self._signing)

    @property
    def encryption_key(self) -> PublicKey:
        """The current public encryption key."""
        return public_key_of(self._encryption)

    def sign(self, claims: Mapping[str, Any], typ: str) -> str:
        """A compact JWS of ``claims`` by the current signing key."""
        with self._lock:
            key = self._signing
        header = {"alg": SIGNING_ALG, "kid": key.kid, "typ": typ}
        return jws.serialize_compact(header, _dumps(claims), key, registry=_JWS)

    def seal(self, claims: Mapping[str, Any], typ: str, recipient: PublicKey) -> str:
        """Sign ``claims``, then encrypt the JWS to ``recipient``: a nested JWS-in-JWE."""
        return encrypt_to(self.sign(claims, typ).encode(), recipient, TYP_SEALED, cty=typ)

    def decrypt(self, token: str) -> bytes:
        """Decrypt a compact JWE sent to this node (current or retired key); raise EnvelopeRejected otherwise."""
        header = _segment(token, 0, 5)
        if header.get("alg") != KEY_WRAP_ALG or header.get("enc") != CONTENT_ENC:
            raise EnvelopeRejected(
                "undecryptable", f"unsupported JWE algorithms {header.get('alg')}/{header.get('enc')}"
            )
        with self._lock:
            keys = self._decryption
        try:
            return jwe.decrypt_compact(token, keys, registry=_JWE).plaintext or b""
        except (JoseError, ValueError) as exc:
            detail = getattr(exc, "error", None) or type(exc).__name__
            raise EnvelopeRejected(
                "undecryptable",
                f"the transmission cannot be decrypted with this node's keys (key {header.get('kid')}: {detail})",
            ) from None

    def open(self, token: str) -> str:
        """Decrypt a sealed transmission and return the JWS inside (still to be verified against its sender)."""
        inner = self.decrypt(token)
        try:
            return inner.decode("ascii")
        except UnicodeDecodeError:
            raise EnvelopeRejected("malformed", "the decrypted transmission is not a JWS") from None

    def sign_document(self, document: Mapping[str, Any], typ: str, also: Sequence[bytes] = ()) -> dict[str, Any]:
        """A General JSON JWS of ``document`` by the current key and any ``also`` (PEM private keys, e.g. the key
        a rotation replaces)."""
        with self._lock:
            keys = [self._signing, *(_private(p) for p in also)]
        members = [{"protected": {"alg": SIGNING_ALG, "kid": k.kid, "typ": typ}} for k in keys]
        signed = jws.serialize_json(members, _dumps(document), KeySet(keys), registry=_JWS)  # type: ignore[arg-type]
        return dict(signed)

    def rotate(self, build: Callable[[PublicKey, PublicKey], Mapping[str, Any]], typ: str) -> dict[str, Any]:
        """Replace the keys; return ``build(new signing, new encryption)`` signed by the new key and the old one,
        so that peers who trust the old key can follow the change without an operator."""
        with self._lock:
            old_pem = self._signing_pem
            label = self._signing.thumbprint()
            self._load(rotate_federation_keys(self._dir, label))
        return self.sign_document(build(self.signing_key, self.encryption_key), typ, also=(old_pem,))

    def issue_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign an X.509 certificate with the current signing key (Ed25519), so that a certificate this node
        issues itself (its document-signing certificate, ``documents.certificates``) is bound to the key its
        signed directory entry publishes: whoever trusts the entry can check the certificate, no CA needed."""
        with self._lock:
            pem = self._signing_pem
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("the federation signing key is not an Ed25519 key")
        return builder.sign(key, None)

    @staticmethod
    def verify_ed25519(public_key_hex: str, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is the Ed25519 signature of ``message`` by the raw key ``public_key_hex``."""
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        except ValueError:
            return False
        return verify_signature(key, signature, message)

    # Checks that need no key of ours, here so that services reach all JOSE through one port.
    verify = staticmethod(verify)
    peek = staticmethod(peek)
    verify_document = staticmethod(verify_document)
    encrypt_to = staticmethod(encrypt_to)
