"""JOSE between nodes, with real keys on disk: what is signed verifies only with its signer's key and only as the
type it was signed as, what is sealed opens only for its recipient, tampering of any part is refused with a stable
reason, and a key rotation keeps the node's id and what was already on its way."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OKPKey

from hanoinet.federation.domain import (
    TYP_BATCH,
    TYP_ENTRY,
    TYP_MESSAGE,
    TYP_RECEIPT,
    TYP_REGISTER,
    TYP_SEALED,
    EnvelopeRejected,
    PublicKey,
)
from hanoinet.federation.jose import (
    JoseIdentity,
    document_payload,
    encrypt_to,
    okp,
    peek,
    public_key_of,
    verify,
    verify_document,
)
from hanoinet.platform.keys import (
    FED_ENCRYPTION_FILE,
    FED_SIGNING_FILE,
    FEDERATION_DIR,
    KeyFileError,
    ensure_federation_keys,
    ensure_keys,
    load_federation_keys,
)

CLAIMS: dict[str, Any] = {
    "hanoinet_message": 1,
    "id": "msg-1",
    "from": "vnm-moj",
    "to": "sgp-agc",
    "body": {"note": "Đã nhận"},
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def flip_byte(part: str, index: int = 0) -> str:
    raw = bytearray(unb64(part))
    raw[index] ^= 0x01
    return b64(bytes(raw))


def signing_pem(key_dir: Path) -> bytes:
    return (key_dir / FEDERATION_DIR / FED_SIGNING_FILE).read_bytes()


def rejected(exc: pytest.ExceptionInfo[EnvelopeRejected]) -> str:
    return exc.value.reason


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> tuple[JoseIdentity, JoseIdentity, JoseIdentity]:
    base = tmp_path_factory.mktemp("jose")
    return (
        JoseIdentity(base / "a", "vnm-moj", "VNM"),
        JoseIdentity(base / "b", "sgp-agc", "SGP"),
        JoseIdentity(base / "c", None, "THA"),
    )


@pytest.fixture(scope="module")
def alice(nodes: tuple[JoseIdentity, JoseIdentity, JoseIdentity]) -> JoseIdentity:
    return nodes[0]


@pytest.fixture(scope="module")
def bob(nodes: tuple[JoseIdentity, JoseIdentity, JoseIdentity]) -> JoseIdentity:
    return nodes[1]


@pytest.fixture(scope="module")
def carol(nodes: tuple[JoseIdentity, JoseIdentity, JoseIdentity]) -> JoseIdentity:
    return nodes[2]


# --------------------------------------------------------------------------------------------------------------
# Identities and keys


def test_a_node_is_created_with_its_id_or_a_fresh_one_named_after_its_state(
    alice: JoseIdentity, carol: JoseIdentity
) -> None:
    assert alice.node_id == "vnm-moj"
    assert carol.node_id.startswith("tha-")
    assert len(carol.node_id) == len("tha-") + 8


def test_published_keys_are_okp_with_their_thumbprint_as_kid(alice: JoseIdentity) -> None:
    for key, curve in ((alice.signing_key, "Ed25519"), (alice.encryption_key, "X25519")):
        assert dict(key.jwk) == {"kty": "OKP", "crv": curve, "x": key.jwk["x"]}
        assert OKPKey.import_key(dict(key.jwk)).thumbprint() == key.kid
    assert alice.signing_key.kid != alice.encryption_key.kid


def test_okp_imports_a_published_key_with_its_kid(alice: JoseIdentity) -> None:
    key = okp(alice.signing_key)
    assert key.kid == alice.signing_key.kid
    assert not key.is_private


def test_okp_refuses_a_kid_that_is_not_the_keys_thumbprint(alice: JoseIdentity, bob: JoseIdentity) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        okp(PublicKey(bob.signing_key.kid, alice.signing_key.jwk))
    assert rejected(exc) == "malformed"


def test_okp_refuses_a_private_key() -> None:
    private = OKPKey.generate_key("Ed25519")
    with pytest.raises(ValueError, match="public"):
        okp(PublicKey(private.thumbprint(), private.as_dict(private=True)))


def test_the_node_is_reloaded_from_its_key_directory(tmp_path: Path) -> None:
    first = JoseIdentity(tmp_path, "vnm-moj", "VNM")
    again = JoseIdentity(tmp_path)
    assert again.node_id == "vnm-moj"
    assert again.signing_key == first.signing_key
    assert again.encryption_key == first.encryption_key


def test_the_settings_may_not_rename_an_existing_node(tmp_path: Path) -> None:
    ensure_federation_keys(tmp_path, "vnm-moj", "VNM")
    with pytest.raises(KeyFileError, match="vnm-moj") as exc:
        ensure_federation_keys(tmp_path, "vnm-other", "VNM")
    assert "vnm-other" in str(exc.value)
    with pytest.raises(KeyFileError):
        JoseIdentity(tmp_path, "vnm-other")
    assert ensure_federation_keys(tmp_path, None, "SGP").node_id == "vnm-moj"
    assert ensure_federation_keys(tmp_path, "vnm-moj").node_id == "vnm-moj"


def test_key_files_are_private_to_the_nodes_user(tmp_path: Path) -> None:
    JoseIdentity(tmp_path, "vnm-moj")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"node-id", FED_SIGNING_FILE, FED_ENCRYPTION_FILE}
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    for directory in (tmp_path, tmp_path / FEDERATION_DIR):
        assert directory.stat().st_mode & 0o777 == 0o700


def test_a_key_file_readable_by_others_is_refused_without_echoing_it(tmp_path: Path) -> None:
    JoseIdentity(tmp_path, "vnm-moj")
    path = tmp_path / FEDERATION_DIR / FED_SIGNING_FILE
    pem = path.read_bytes()
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600") as exc:
        JoseIdentity(tmp_path)
    assert pem.decode().splitlines()[1] not in str(exc.value)


def test_a_key_file_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    JoseIdentity(tmp_path, "vnm-moj")
    fed = tmp_path / FEDERATION_DIR
    encryption = (fed / FED_ENCRYPTION_FILE).read_bytes()
    (fed / FED_SIGNING_FILE).write_bytes(encryption)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_federation_keys(tmp_path)


def test_nothing_secret_appears_in_a_repr(tmp_path: Path) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    fed = tmp_path / FEDERATION_DIR
    secrets: list[str] = []
    for name in (FED_SIGNING_FILE, FED_ENCRYPTION_FILE):
        pem = (fed / name).read_bytes()
        secrets.append(str(OKPKey.import_key(pem).as_dict(private=True)["d"]))
        secrets.append(pem.decode().splitlines()[1])
    keys = ensure_federation_keys(tmp_path)
    for text in (repr(identity), str(identity), repr(keys)):
        assert "vnm-moj" in text
        assert "PRIVATE" not in text
        for secret in secrets:
            assert secret not in text
    assert identity.signing_key.kid in repr(identity)


# --------------------------------------------------------------------------------------------------------------
# Signatures


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(claims=st.dictionaries(st.text(max_size=10), _JSON, max_size=5))
def test_what_is_signed_verifies_with_the_signers_key(alice: JoseIdentity, claims: dict[str, Any]) -> None:
    token = alice.sign(claims, TYP_MESSAGE)
    assert verify(token, alice.signing_key, TYP_MESSAGE) == claims
    assert JoseIdentity.verify(token, alice.signing_key, TYP_MESSAGE) == claims


def test_a_signature_names_its_algorithm_key_and_type(alice: JoseIdentity) -> None:
    header, payload = peek(alice.sign(CLAIMS, TYP_BATCH))
    assert header == {"alg": "Ed25519", "kid": alice.signing_key.kid, "typ": TYP_BATCH}
    assert payload == CLAIMS


def test_another_nodes_key_does_not_verify(alice: JoseIdentity, bob: JoseIdentity) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        verify(alice.sign(CLAIMS, TYP_MESSAGE), bob.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "bad_signature"
    assert bob.signing_key.kid in exc.value.detail


def test_a_changed_payload_does_not_verify(alice: JoseIdentity) -> None:
    header, payload, signature = alice.sign(CLAIMS, TYP_MESSAGE).split(".")
    forged = b64(unb64(payload).replace(b'"sgp-agc"', b'"tha-oag"'))
    assert forged != payload
    with pytest.raises(EnvelopeRejected) as exc:
        verify(f"{header}.{forged}.{signature}", alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "bad_signature"


@pytest.mark.parametrize("part", [1, 2])
def test_a_flipped_byte_of_the_payload_or_signature_does_not_verify(alice: JoseIdentity, part: int) -> None:
    parts = alice.sign(CLAIMS, TYP_MESSAGE).split(".")
    parts[part] = flip_byte(parts[part], 3)
    with pytest.raises(EnvelopeRejected) as exc:
        verify(".".join(parts), alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "bad_signature"


def test_the_type_cannot_be_changed_after_signing(alice: JoseIdentity) -> None:
    header, payload, signature = alice.sign(CLAIMS, TYP_RECEIPT).split(".")
    relabelled = b64json({**json.loads(unb64(header)), "typ": TYP_MESSAGE})
    with pytest.raises(EnvelopeRejected) as exc:
        verify(f"{relabelled}.{payload}.{signature}", alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "bad_signature"


def test_a_signature_of_another_type_is_refused(alice: JoseIdentity) -> None:
    token = alice.sign(CLAIMS, TYP_RECEIPT)
    with pytest.raises(EnvelopeRejected) as exc:
        verify(token, alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "malformed"
    assert TYP_MESSAGE in exc.value.detail
    assert TYP_RECEIPT in exc.value.detail


def test_an_unsigned_token_is_refused(alice: JoseIdentity) -> None:
    _, payload, _ = alice.sign(CLAIMS, TYP_MESSAGE).split(".")
    header = b64json({"alg": "none", "kid": alice.signing_key.kid, "typ": TYP_MESSAGE})
    with pytest.raises(EnvelopeRejected) as exc:
        verify(f"{header}.{payload}.", alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "bad_signature"


def test_a_signed_payload_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    key = OKPKey.import_key(signing_pem(tmp_path), parameters={"kid": identity.signing_key.kid})
    for payload in (b"[1, 2]", b"not json"):
        header = {"alg": "Ed25519", "typ": TYP_MESSAGE}
        token = jws.serialize_compact(header, payload, key, registry=jws.JWSRegistry(algorithms=["Ed25519"]))
        with pytest.raises(EnvelopeRejected) as exc:
            verify(token, identity.signing_key, TYP_MESSAGE)
        assert rejected(exc) == "malformed"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "onlyone",
        "two.parts",
        "four.parts.in.all",
        "five.parts.is.a.jwe",
        "!!!.e30.c2ln",
        "e30.!!!.c2ln",
        "W10.e30.c2ln",  # header is a JSON array
        "e30.bnVsbA.c2ln",  # payload is JSON null
    ],
)
def test_peek_refuses_what_is_not_a_compact_jws_of_objects(token: str) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        peek(token)
    assert rejected(exc) == "malformed"


def test_peek_reads_without_verifying(alice: JoseIdentity) -> None:
    header, payload, _ = alice.sign(CLAIMS, TYP_MESSAGE).split(".")
    assert peek(f"{header}.{payload}.{b64(b'no signature')}")[1] == CLAIMS


@pytest.mark.parametrize("token", ["two.parts", "four.parts.in.all", "!!!.e30.c2ln"])
def test_verify_reports_an_unparseable_token_as_malformed(alice: JoseIdentity, token: str) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        verify(token, alice.signing_key, TYP_MESSAGE)
    assert rejected(exc) == "malformed"


def test_an_unparseable_token_never_verifies(alice: JoseIdentity) -> None:
    for token in ("two.parts", "four.parts.in.all", "!!!.e30.c2ln", ""):
        with pytest.raises(EnvelopeRejected) as exc:
            verify(token, alice.signing_key, TYP_MESSAGE)
        assert rejected(exc) in {"malformed", "bad_signature"}


# --------------------------------------------------------------------------------------------------------------
# Sealing


def test_a_sealed_message_opens_for_its_recipient_and_verifies_as_its_sender(
    alice: JoseIdentity, bob: JoseIdentity
) -> None:
    sealed = alice.seal(CLAIMS, TYP_BATCH, bob.encryption_key)
    header = json.loads(unb64(sealed.split(".")[0]))
    assert header["alg"] == "ECDH-ES+A256KW"
    assert header["enc"] == "A256GCM"
    assert header["kid"] == bob.encryption_key.kid
    assert header["typ"] == TYP_SEALED
    assert header["cty"] == TYP_BATCH
    inner = bob.open(sealed)
    assert verify(inner, alice.signing_key, TYP_BATCH) == CLAIMS
    assert CLAIMS["body"]["note"].encode() not in sealed.encode()


def test_nobody_but_the_recipient_opens_a_sealed_message(
    alice: JoseIdentity, bob: JoseIdentity, carol: JoseIdentity
) -> None:
    sealed = alice.seal(CLAIMS, TYP_MESSAGE, bob.encryption_key)
    for other in (alice, carol):
        with pytest.raises(EnvelopeRejected) as exc:
            other.open(sealed)
        assert rejected(exc) == "undecryptable"


def test_encrypt_to_carries_any_bytes(bob: JoseIdentity) -> None:
    data = bytes(range(256)) * 4
    assert bob.decrypt(encrypt_to(data, bob.encryption_key, "application/octet-stream")) == data
    assert bob.decrypt(JoseIdentity.encrypt_to(b"", bob.encryption_key, "t")) == b""


def test_a_decrypted_transmission_that_is_not_ascii_is_not_a_jws(bob: JoseIdentity) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        bob.open(encrypt_to("Hà Nội".encode(), bob.encryption_key, TYP_SEALED))
    assert rejected(exc) == "malformed"


@pytest.mark.parametrize(("part", "index"), [(1, 0), (2, 5), (3, 0), (3, -1), (4, 0), (4, -1)])
def test_a_flipped_byte_in_any_part_of_a_jwe_is_undecryptable(
    alice: JoseIdentity, bob: JoseIdentity, part: int, index: int
) -> None:
    parts = alice.seal(CLAIMS, TYP_MESSAGE, bob.encryption_key).split(".")
    parts[part] = flip_byte(parts[part], index)
    with pytest.raises(EnvelopeRejected) as exc:
        bob.open(".".join(parts))
    assert rejected(exc) == "undecryptable"


def test_a_changed_protected_header_of_a_jwe_is_undecryptable(alice: JoseIdentity, bob: JoseIdentity) -> None:
    parts = alice.seal(CLAIMS, TYP_MESSAGE, bob.encryption_key).split(".")
    parts[0] = b64json({**json.loads(unb64(parts[0])), "cty": TYP_RECEIPT})
    with pytest.raises(EnvelopeRejected) as exc:
        bob.open(".".join(parts))
    assert rejected(exc) == "undecryptable"


@pytest.mark.parametrize(
    "algorithms", [{"alg": "RSA-OAEP"}, {"alg": "ECDH-ES"}, {"enc": "A128GCM"}, {"alg": "dir"}, {"enc": None}]
)
def test_a_jwe_with_unsupported_algorithms_is_undecryptable(
    alice: JoseIdentity, bob: JoseIdentity, algorithms: dict[str, Any]
) -> None:
    parts = alice.seal(CLAIMS, TYP_MESSAGE, bob.encryption_key).split(".")
    parts[0] = b64json({**json.loads(unb64(parts[0])), **algorithms})
    with pytest.raises(EnvelopeRejected) as exc:
        bob.decrypt(".".join(parts))
    assert rejected(exc) == "undecryptable"
    assert "unsupported JWE algorithms" in exc.value.detail


@pytest.mark.parametrize(
    "token", ["", "a.b.c", "a.b.c.d", "a.b.c.d.e.f", "!!!.b.c.d.e", "W10.b.c.d.e", f"{b64(b'not json')}.b.c.d.e"]
)
def test_what_is_not_a_compact_jwe_of_an_object_is_malformed(bob: JoseIdentity, token: str) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        bob.open(token)
    assert rejected(exc) == "malformed"


def test_a_jws_is_not_a_sealed_transmission(alice: JoseIdentity, bob: JoseIdentity) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        bob.open(alice.sign(CLAIMS, TYP_MESSAGE))
    assert rejected(exc) == "malformed"


# --------------------------------------------------------------------------------------------------------------
# Documents with several signatures (directory entries)

DOCUMENT: dict[str, Any] = {"hanoinet_entry": 1, "node_id": "vnm-moj", "serial": 3}


def test_a_document_signed_by_two_keys_verifies_with_both(
    tmp_path: Path, alice: JoseIdentity, bob: JoseIdentity, carol: JoseIdentity
) -> None:
    signer = JoseIdentity(tmp_path / "signer", "vnm-signer")
    other = JoseIdentity(tmp_path / "other", "vnm-other")
    signed = signer.sign_document(DOCUMENT, TYP_ENTRY, also=(signing_pem(tmp_path / "other"),))
    both = {signer.signing_key.kid, other.signing_key.kid}
    assert verify_document(signed, [signer.signing_key, other.signing_key]) == (DOCUMENT, frozenset(both))
    assert verify_document(signed, [other.signing_key]) == (DOCUMENT, frozenset({other.signing_key.kid}))
    assert verify_document(signed, [alice.signing_key, bob.signing_key, carol.signing_key]) == (DOCUMENT, frozenset())
    assert JoseIdentity.verify_document(signed, ()) == (DOCUMENT, frozenset())
    assert document_payload(signed) == DOCUMENT
    protected = [json.loads(unb64(s["protected"])) for s in signed["signatures"]]
    assert {p["kid"] for p in protected} == both
    assert {p["typ"] for p in protected} == {TYP_ENTRY}


def test_a_signature_over_another_payload_is_dropped(tmp_path: Path) -> None:
    signer = JoseIdentity(tmp_path / "signer", "vnm-signer")
    other = JoseIdentity(tmp_path / "other", "vnm-other")
    genuine = signer.sign_document(DOCUMENT, TYP_ENTRY)
    elsewhere = other.sign_document({**DOCUMENT, "serial": 4}, TYP_ENTRY)
    spliced = {"payload": genuine["payload"], "signatures": [*genuine["signatures"], *elsewhere["signatures"]]}
    keys = [signer.signing_key, other.signing_key]
    assert verify_document(spliced, keys) == (DOCUMENT, frozenset({signer.signing_key.kid}))
    altered = {**genuine, "payload": b64json({**DOCUMENT, "serial": 99})}
    assert verify_document(altered, keys) == ({**DOCUMENT, "serial": 99}, frozenset())


def test_a_signature_claiming_anothers_kid_does_not_count(tmp_path: Path) -> None:
    signer = JoseIdentity(tmp_path / "signer", "vnm-signer")
    impostor = JoseIdentity(tmp_path / "impostor", "vnm-impostor")
    signed = impostor.sign_document(DOCUMENT, TYP_ENTRY)
    member = signed["signatures"][0]
    member["protected"] = b64json({**json.loads(unb64(member["protected"])), "kid": signer.signing_key.kid})
    assert verify_document(signed, [signer.signing_key, impostor.signing_key]) == (DOCUMENT, frozenset())


def test_an_unsigned_member_does_not_count(alice: JoseIdentity) -> None:
    signed = alice.sign_document(DOCUMENT, TYP_ENTRY)
    none = {"protected": b64json({"alg": "none", "kid": alice.signing_key.kid}), "signature": ""}
    missing = {"protected": signed["signatures"][0]["protected"]}
    forged = {"payload": signed["payload"], "signatures": [none, missing]}
    assert verify_document(forged, [alice.signing_key]) == (DOCUMENT, frozenset())


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"payload": b64json(DOCUMENT)},
        {"payload": b64json(DOCUMENT), "signatures": []},
        {"payload": b64json(DOCUMENT), "signatures": "x"},
        {"payload": 5, "signatures": [{"protected": "e30", "signature": ""}]},
        {"payload": b64json(DOCUMENT), "signatures": [{"signature": "c2ln"}]},
        {"payload": b64json(DOCUMENT), "signatures": ["e30"]},
        {"payload": b64json(DOCUMENT), "signatures": [{"protected": "!!!", "signature": ""}]},
        {"payload": b64json([1, 2]), "signatures": [{"protected": "e30", "signature": ""}]},
        {"payload": "!!!", "signatures": [{"protected": "e30", "signature": ""}]},
    ],
)
def test_what_is_not_a_general_json_jws_of_an_object_is_malformed(document: dict[str, Any]) -> None:
    with pytest.raises(EnvelopeRejected) as exc:
        verify_document(document, [])
    assert rejected(exc) == "malformed"


# --------------------------------------------------------------------------------------------------------------
# Rotation


def test_a_rotation_is_signed_by_the_new_and_the_old_key(tmp_path: Path) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    old_signing, old_encryption = identity.signing_key, identity.encryption_key
    seen: list[tuple[PublicKey, PublicKey]] = []

    def build(signing: PublicKey, encryption: PublicKey) -> dict[str, Any]:
        seen.append((signing, encryption))
        return {**DOCUMENT, "signing": signing.kid, "encryption": encryption.kid}

    signed = identity.rotate(build, TYP_ENTRY)
    assert seen == [(identity.signing_key, identity.encryption_key)]
    assert identity.signing_key != old_signing
    assert identity.encryption_key != old_encryption
    assert identity.node_id == "vnm-moj"
    payload, kids = verify_document(signed, [old_signing, identity.signing_key])
    assert kids == {old_signing.kid, identity.signing_key.kid}
    assert payload["signing"] == identity.signing_key.kid
    assert identity.retired_signing == (old_signing,)


def test_after_a_rotation_new_signatures_are_by_the_new_key_only(tmp_path: Path) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    old = identity.signing_key
    identity.rotate(lambda s, e: DOCUMENT, TYP_ENTRY)
    token = identity.sign(CLAIMS, TYP_MESSAGE)
    assert verify(token, identity.signing_key, TYP_MESSAGE) == CLAIMS
    with pytest.raises(EnvelopeRejected):
        verify(token, old, TYP_MESSAGE)
    assert verify_document(identity.sign_document(DOCUMENT, TYP_REGISTER), [old, identity.signing_key])[1] == {
        identity.signing_key.kid
    }


def test_messages_already_on_their_way_open_after_rotations(tmp_path: Path, alice: JoseIdentity) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    first = alice.seal(CLAIMS, TYP_MESSAGE, identity.encryption_key)
    identity.rotate(lambda s, e: DOCUMENT, TYP_ENTRY)
    second = alice.seal({**CLAIMS, "id": "msg-2"}, TYP_MESSAGE, identity.encryption_key)
    identity.rotate(lambda s, e: DOCUMENT, TYP_ENTRY)
    current = alice.seal({**CLAIMS, "id": "msg-3"}, TYP_MESSAGE, identity.encryption_key)
    reloaded = JoseIdentity(tmp_path, "vnm-moj")
    for node in (identity, reloaded):
        opened = [verify(node.open(t), alice.signing_key, TYP_MESSAGE)["id"] for t in (first, second, current)]
        assert opened == ["msg-1", "msg-2", "msg-3"]
    assert reloaded.signing_key == identity.signing_key
    assert reloaded.retired_signing == identity.retired_signing
    assert len({k.kid for k in reloaded.retired_signing} | {reloaded.signing_key.kid}) == 3


def test_after_a_rotation_the_key_files_stay_private_and_the_old_signing_key_keeps_only_its_public_half(
    tmp_path: Path,
) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    old_kid = identity.signing_key.kid
    identity.rotate(lambda s, e: DOCUMENT, TYP_ENTRY)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} == {
        "node-id",
        FED_SIGNING_FILE,
        FED_ENCRYPTION_FILE,
        f"{old_kid}-encryption.pem",
        f"{old_kid}-signing.pub.pem",
    }
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    public = next(p for p in files if p.name.endswith(".pub.pem")).read_text()
    assert "PUBLIC KEY" in public
    assert "PRIVATE" not in public
    assert (tmp_path / "node-id").read_text() == "vnm-moj"


def test_public_key_of_matches_the_published_key(tmp_path: Path) -> None:
    identity = JoseIdentity(tmp_path, "vnm-moj")
    private = OKPKey.import_key(signing_pem(tmp_path))
    assert public_key_of(private) == identity.signing_key


# --------------------------------------------------------------------------------------------------------------
# The custody ledger's key (raw Ed25519, hex)


def test_verify_ed25519_accepts_the_custody_keys_signature_only(tmp_path: Path) -> None:
    custody = ensure_keys(tmp_path / "custody")
    stranger = ensure_keys(tmp_path / "stranger")
    message = b'{"head_hash":"ab","ledger":"hanoinet-custody","seq":7}'
    signature = custody.sign(message)
    public = custody.public_key_hex()
    assert JoseIdentity.verify_ed25519(public, signature, message)
    assert not JoseIdentity.verify_ed25519(public, signature, message + b" ")
    assert not JoseIdentity.verify_ed25519(public, stranger.sign(message), message)
    assert not JoseIdentity.verify_ed25519(stranger.public_key_hex(), signature, message)
    assert not JoseIdentity.verify_ed25519(public, signature[:-1], message)
    assert not JoseIdentity.verify_ed25519(public, b"", message)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not JoseIdentity.verify_ed25519(public, tampered, message)


@pytest.mark.parametrize("public", ["", "zz" * 32, "ab" * 31, "ab" * 33, "not hex at all"])
def test_verify_ed25519_refuses_a_malformed_key(tmp_path: Path, public: str) -> None:
    custody = ensure_keys(tmp_path)
    assert not JoseIdentity.verify_ed25519(public, custody.sign(b"m"), b"m")
