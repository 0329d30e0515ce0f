"""Court packages: evidence, its chain of custody and the node's signature, checkable without hanoinet.

A court or a defence expert abroad cannot be asked to install hanoinet to trust an exhibit; they have
``sha256sum``, ``openssl`` and perhaps ``jq`` or Python. So a package is a plain directory::

    content/<exhibit>-<sha256[:12]>.bin   the decrypted content of each item still held (none for disposed items)
    manifest.json                         canonical JSON: items, hashes, handling conditions, custody, checkpoints
    manifest.sig                          raw 64-byte Ed25519 signature of the exact bytes of manifest.json
    node-signing.pub.pem                  the node's public key (SubjectPublicKeyInfo PEM, as OpenSSL reads it)
    SHA256SUMS                            every file but itself and manifest.sig, in ``sha256sum -c`` format
    case.jsonld                           the same items and custody as CASE/UCO JSON-LD, for forensic tools
    VERIFY.txt                            how to check all of this with standard tools, step by step

What a package proves, and what it does not:

- *Nothing changed after export.* The manifest is signed; it records the SHA-256 (and size) of every content file
  and of case.jsonld, VERIFY.txt and the key file. So one signature check and one hash per file cover every byte.
- *Who exported it.* Only as far as the reader trusts the public key: a forger can re-sign a changed package with
  a key of their own, and it will then be consistent with itself. The reader must compare the key (its hex is in
  VERIFY.txt and the manifest) with the one the node's authority published; ``verify_package`` does this when
  given ``expected_public_key_hex``. A package does not and cannot prove its own origin.
- *The custody history is the node's ledger.* Each event's hash is recomputed from its fields; consecutive events
  must chain; and every event is tied to a checkpoint the node signed when the event was recorded (the ledger is
  shared by all items of the node, so a package carries only its own items' events, and the checkpoints vouch for
  the events whose predecessors are left out). Changing an event, even with the hashes recomputed, needs the
  node's signing key.
- *The metadata are those recorded at acquisition.* The acquisition event commits to a digest of the item's
  description and conditions; the digest is recomputed from the manifest.
- *The content is the content acquired.* While a package is written, each content stream is hashed and compared
  with the item's recorded SHA-256; a mismatch aborts the export and leaves nothing behind.

Writing is streaming (constant memory, whatever the size), into a hidden temporary sibling directory that is
renamed into place only when complete and fsynced, so a crash never leaves a half package at the destination.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BufferedWriter
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hanoinet.evidence.case_uco import NodeInfo, case_bundle
from hanoinet.evidence.domain import (
    GENESIS,
    Checkpoint,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    check_item,
    metadata_digest,
)
from hanoinet.platform.canonical import canonical, utc_iso
from hanoinet.platform.keys import NodeKeys, verify_signature

FORMAT = "hanoinet-court-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "node-signing.pub.pem"
SUMS = "SHA256SUMS"
CASE = "case.jsonld"
README = "VERIFY.txt"
CONTENT_DIR = "content"

RULES = {
    "canonical_json": "JSON with keys sorted, no whitespace (separators ',' and ':'), UTF-8 with non-ASCII "
    "characters written as they are (not as \\u escapes)",
    "manifest_signature": f"{SIGNATURE} is the raw Ed25519 (RFC 8032) signature of the exact bytes of {MANIFEST}, "
    f"by the key in {PUBLIC_KEY} (node.public_key_hex)",
    "files": f"{SUMS} lists the SHA-256 of every file except itself and {SIGNATURE}; this manifest records the same "
    "hash for each content file (items[].sha256, items[].content_path) and for the other files (files)",
    "custody_event_hash": "hash = SHA-256 of the canonical JSON of the event without its 'hash' field, i.e. of "
    "{seq, item_id, action, actor, at, reason, details, prev_hash}",
    "custody_chain": "prev_hash = the hash of the node's ledger event seq-1 (64 zeros for seq 1). The ledger holds "
    "the events of every item at the node; a package carries only its own items' events, so where the event before "
    "one is not included, that event is tied to the ledger by the checkpoint of its own seq",
    "checkpoint": "signature (base64) = Ed25519 signature, by the node's key, of the canonical JSON "
    '{"head_hash": <head_hash>, "ledger": "hanoinet-custody", "seq": <seq>}, made when event seq was recorded',
    "metadata_digest": "SHA-256 of the canonical JSON of {id, sha256, size, hashes, case_id, exhibit, source, "
    "acquisition_method, acquisition_tool, acquired_by, acquired_at, description, file_name, conditions, "
    "created_at}; the item's acquire event records it in details.metadata_digest",
}
"""How every hash and signature in a package is computed, in words; written into each manifest."""

_HASH_CHUNK = 1 << 20

_T = TypeVar("_T")


class PackageError(ValueError):
    """A package cannot be written as asked: content that is not the recorded content, or custody that does not
    verify. Nothing is left at the destination."""


@dataclass(frozen=True)
class PackageEntry:
    """One item to export and a way to stream its decrypted content (None: metadata only, e.g. disposed of)."""

    item: EvidenceItem
    content: Callable[[], Iterable[bytes]] | None


def write_package(  # noqa: PLR0917 - the export service's agreed signature: what, custody, who signs
    dest: Path,
    entries: Sequence[PackageEntry],
    events: Sequence[CustodyEvent],
    checkpoints: Sequence[Checkpoint],
    keys: NodeKeys,
    node: NodeInfo,
    *,
    case_reference: str,
    exported_by: str,
    exported_at: datetime,
) -> Path:
    """Write a court package of ``entries`` with their custody ``events`` at ``dest`` and return its path.

    ``events`` must be the complete custody history of the exported items (and only theirs: another case's
    history must not leak into this one), ``checkpoints`` the node's signed checkpoints (those of other events are
    ignored). Before writing anything, the custody is checked exactly as ``verify_package`` will check it, so that
    the node never signs a package that would not verify. Raises FileExistsError if ``dest`` exists and is not an
    empty directory, PackageError if the custody does not verify or a content stream is not the recorded content.
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty: a package is written only into a new place")
    if node.public_key_hex != keys.public_key_hex():
        raise PackageError("the node info's public key is not the signing key's: the package would not verify")
    if exported_at.tzinfo is None:
        raise PackageError("exported_at must carry a time zone")
    # Everything the package states, as plain data (the ``files`` hashes are added once those files exist).
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "case_reference": case_reference,
        "node": {"name": node.name, "state": node.state, "public_key_hex": node.public_key_hex},
        "public_key_pem": keys.public_key_pem().decode(),
        "exported_by": exported_by,
        "exported_at": utc_iso(exported_at),
        "items": _item_records(entries),
        "custody": _custody_record(events, checkpoints),
        "rules": RULES,
    }
    problems = _check_custody(manifest, keys.public_key())
    if problems:
        raise PackageError("the custody of these items does not verify: " + "; ".join(problems))

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.partial-{secrets.token_hex(6)}"
    tmp.mkdir(mode=0o700)
    try:
        _write_all(tmp, entries, events, keys=keys, node=node, manifest=manifest, case_reference=case_reference)
        tmp.rename(dest)  # atomic; replaces dest only if it is an empty directory
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _write_all(
    tmp: Path,
    entries: Sequence[PackageEntry],
    events: Sequence[CustodyEvent],
    *,
    keys: NodeKeys,
    node: NodeInfo,
    manifest: dict[str, Any],
    case_reference: str,
) -> None:
    """Write every file of the package into ``tmp``: content first (the slow part), the signature last."""
    (tmp / CONTENT_DIR).mkdir(mode=0o700)
    by_id = {entry.item.id: entry for entry in entries}
    sums: dict[str, str] = {}
    for record in manifest["items"]:
        entry = by_id[record["id"]]
        if entry.content is not None:
            _write_content(tmp / record["content_path"], entry.item, entry.content())
            sums[record["content_path"]] = entry.item.sha256
    _fsync_dir(tmp / CONTENT_DIR)

    bundle = case_bundle(
        [e.item for e in entries], events, node=node, case_reference=case_reference
    )  # the same items and events as the manifest, so the two views cannot disagree
    others = {
        CASE: json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n",
        PUBLIC_KEY: keys.public_key_pem(),
        README: _verify_text(manifest).encode(),
    }
    for name, data in others.items():
        _write_file(tmp / name, data)
    manifest["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(others.items())}
    sums.update(manifest["files"])

    manifest_bytes = canonical(manifest)
    _write_file(tmp / MANIFEST, manifest_bytes)
    sums[MANIFEST] = hashlib.sha256(manifest_bytes).hexdigest()
    _write_file(tmp / SIGNATURE, keys.sign(manifest_bytes))
    _write_file(tmp / SUMS, "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())).encode())
    _fsync_dir(tmp)


def _item_records(entries: Sequence[PackageEntry]) -> list[dict[str, Any]]:
    """The manifest's items, by exhibit, each with the file of its content (None when it has none)."""
    if len({e.item.id for e in entries}) != len(entries):
        raise PackageError("an item is listed twice")
    names: set[str] = set()
    records = []
    for entry in sorted(entries, key=lambda e: (e.item.described.exhibit, e.item.id)):
        path = None
        if entry.content is not None:
            if entry.item.disposed_at is not None:
                raise PackageError(f"item {entry.item.id} was disposed of: it has no content to export")
            path = _content_name(entry.item, names)
        records.append(_item_record(entry.item, path))
    return records


def _custody_record(events: Sequence[CustodyEvent], checkpoints: Sequence[Checkpoint]) -> dict[str, Any]:
    """The manifest's custody: the events in ledger order, and the node's checkpoints of those events only."""
    seqs = {e.seq for e in events}
    return {
        "events": [e.as_dict() for e in sorted(events, key=lambda e: e.seq)],
        "checkpoints": [
            cp.as_dict()
            for cp in sorted({cp.seq: cp for cp in checkpoints if cp.seq in seqs}.values(), key=lambda c: c.seq)
        ],
    }


def _content_name(item: EvidenceItem, taken: set[str]) -> str:
    """``content/<exhibit>-<sha256[:12]>.bin``, with the exhibit reduced to characters safe in any file system."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", item.described.exhibit).strip("._-")[:64] or "item"
    base = f"{CONTENT_DIR}/{safe}-{item.sha256[:12]}"
    name, n = f"{base}.bin", 1
    while name in taken:  # the same exhibit number and content in two cases
        n += 1
        name = f"{base}-{n}.bin"
    taken.add(name)
    return name


def _item_record(item: EvidenceItem, content_path: str | None) -> dict[str, Any]:
    return {
        "id": item.id,
        **item.described.as_dict(),
        "sha256": item.sha256,
        "size": item.size,
        "hashes": dict(sorted(item.hashes.items())),
        "conditions": item.conditions.as_dict(),
        "created_at": utc_iso(item.created_at),
        "disposed_at": utc_iso(item.disposed_at) if item.disposed_at else None,
        "metadata_digest": metadata_digest(item),
        "content_path": content_path,
    }


def _write_content(path: Path, item: EvidenceItem, chunks: Iterable[bytes]) -> None:
    """Stream one item's content to ``path``, hashing as it goes; refuse content that is not the recorded one."""
    digest = hashlib.sha256()
    size = 0
    with _create(path) as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != item.sha256 or size != item.size:
        raise PackageError(
            f"item {item.id} (exhibit {item.described.exhibit}): the content streamed has SHA-256 "
            f"{digest.hexdigest()} and {size} bytes, but the item records {item.sha256} and {item.size} bytes; "
            "nothing was exported"
        )


def _create(path: Path) -> BufferedWriter:
    """Open a new file for writing, readable by the owner only: it may hold decrypted evidence."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb")


def _write_file(path: Path, data: bytes) -> None:
    with _create(path) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _verify_text(manifest: dict[str, Any]) -> str:
    """VERIFY.txt: the checks a court's examiner can run with standard tools, in plain words."""
    node = manifest["node"]
    held = sum(1 for i in manifest["items"] if i["content_path"])
    return f"""\
How to check this court package
===============================

Case: {manifest["case_reference"]}
Exported by {manifest["exported_by"]} at {manifest["exported_at"]} from the hanoinet node
"{node["name"]}" ({node["state"]}).
Items: {len(manifest["items"])} ({held} with content in {CONTENT_DIR}/, the others disposed of: record only).
Custody events: {len(manifest["custody"]["events"])}; signed checkpoints: {len(manifest["custody"]["checkpoints"])}.

You need no hanoinet software: sha256sum (GNU coreutils), OpenSSL 3.0 or later, and for step 4
jq or Python 3. Run every command in this directory.

1. Is the key really the node's?
   Everything below proves only that nothing changed since the holder of the key in {PUBLIC_KEY}
   signed the package. Anybody can sign a package with a key of their own, so first compare that key
   with the one the node's authority published (its directory entry, or a letter from it). Print the
   key file's raw Ed25519 key as hex with
       openssl pkey -pubin -in {PUBLIC_KEY} -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \\n'
   When exported, it was {node["public_key_hex"]}
   (but read it from the key file as above: whoever could replace the key could rewrite this text too).

2. Was the manifest signed by that key, and is it unchanged?
       openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in {MANIFEST} -sigfile {SIGNATURE}
   must print "Signature Verified Successfully". {SIGNATURE} is the raw 64-byte Ed25519 signature of the
   exact bytes of {MANIFEST}; a change of a single character makes it fail.

3. Are all files unchanged?
       sha256sum -c {SUMS}
   must print "OK" for every line. The signed manifest records the same SHA-256 for every content file
   (items[].sha256 for items[].content_path) and for the other files ("files"), so the signature of step 2
   covers them too: check that the hashes in {SUMS} are the ones in the manifest.

4. Is the chain of custody intact?
   The manifest's custody.events are the entries of the node's custody ledger for these items. Each
   event's "hash" is the SHA-256 of the canonical JSON of the event without its "hash" field (keys
   sorted, no spaces, UTF-8); each event's "prev_hash" is the hash of the ledger's event seq-1 (64 zeros
   for seq 1). The ledger holds the events of every item at the node, so events of other cases are left
   out; each event is tied to the ledger by custody.checkpoints, which the node signed when the event was
   recorded. The manifest's "rules" say the same, precisely. To recompute the hash of the first event:
       jq -cSj '.custody.events[0] | del(.hash)' {MANIFEST} | sha256sum
   and compare with
       jq -r '.custody.events[0].hash' {MANIFEST}
   To check the checkpoint of the first event with OpenSSL:
       jq -cSj '.custody.checkpoints[0] | {{head_hash, ledger: "hanoinet-custody", seq}}' {MANIFEST} > cp.msg
       jq -r '.custody.checkpoints[0].signature' {MANIFEST} | base64 -d > cp.sig
       openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in cp.msg -sigfile cp.sig
   Or check every event and its links at once with Python 3: save the lines between the two lines of
   dashes below as check_custody.py, run "python3 check_custody.py", and every line it prints must end
   in OK.
-----
import hashlib, json
m = json.load(open("{MANIFEST}", encoding="utf-8"))
events = {{e["seq"]: e for e in m["custody"]["events"]}}
for seq, e in sorted(events.items()):
    body = {{k: v for k, v in e.items() if k != "hash"}}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    hash_ok = hashlib.sha256(raw).hexdigest() == e["hash"]
    before = events.get(seq - 1)
    if before is not None:
        link_ok = e["prev_hash"] == before["hash"]
    else:
        link_ok = seq > 1 or e["prev_hash"] == "0" * 64
    print(seq, e["action"], e["item_id"], "OK" if hash_ok and link_ok else "BROKEN")
-----

5. Are the items' descriptions those recorded at acquisition?
   Each item's "metadata_digest" is the SHA-256 of the canonical JSON of its fixed description (the fields
   listed in the manifest's rules.metadata_digest); its acquire event records the same value in
   details.metadata_digest, and that event is covered by step 4.

The file {CASE} describes the same items and custody in CASE/UCO JSON-LD
(https://caseontology.org) for forensic tools; it is covered by steps 2 and 3.
"""


# ---------------------------------------------------------------------------------------------------------------
# Verification


def verify_package(path: Path, *, expected_public_key_hex: str | None = None) -> list[str]:
    """Check a package as the outside tools of VERIFY.txt do, and more; return every problem found ([] if none).

    Checks the manifest's signature with the included key, every line of SHA256SUMS, each file against the signed
    manifest, each custody event's hash and links, each checkpoint's signature, and each item's metadata against
    its acquisition event. A package that passes is unchanged since it was signed by the included key; pass
    ``expected_public_key_hex`` (the node's published key) to check that this key is the node's.
    """
    problems: list[str] = []
    public_key = _load_public_key(path / PUBLIC_KEY, problems)
    manifest_bytes = _read(path / MANIFEST, problems)
    signature = _read(path / SIGNATURE, problems)
    if (
        public_key is not None
        and manifest_bytes is not None
        and signature is not None
        and not verify_signature(public_key, signature, manifest_bytes)
    ):
        problems.append(
            f"{SIGNATURE}: the signature does not verify: {MANIFEST} was changed after it was signed, "
            f"or it was signed by a key other than the one in {PUBLIC_KEY}"
        )
    if public_key is not None and expected_public_key_hex is not None:
        found = _raw_hex(public_key)
        if found != expected_public_key_hex.lower():
            problems.append(
                f"{PUBLIC_KEY}: the package is signed with key {found}, not the node's key {expected_public_key_hex}"
            )
    actual = _check_sums(path, problems)
    if manifest_bytes is None:
        return problems
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        problems.append(f"{MANIFEST}: not JSON ({exc})")
        return problems
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        problems.append(f"{MANIFEST}: not a {FORMAT} manifest")
        return problems
    if public_key is not None:
        problems += _check_key(manifest, public_key, path)
        problems += _check_custody(manifest, public_key)
    problems += _check_files(manifest, path, actual)
    return problems


def _read(path: Path, problems: list[str]) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        problems.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
        return None


def _load_public_key(path: Path, problems: list[str]) -> Ed25519PublicKey | None:
    pem = _read(path, problems)
    if pem is None:
        return None
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        problems.append(f"{PUBLIC_KEY}: not a PEM public key")
        return None
    if not isinstance(key, Ed25519PublicKey):
        problems.append(f"{PUBLIC_KEY}: not an Ed25519 key")
        return None
    return key


def _raw_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _inside(package: Path, name: str) -> Path | None:
    """The file ``name`` of the package, or None if the name points outside it (absolute, ``..``, a symlink)."""
    candidate = package / name
    if Path(name).is_absolute() or ".." in Path(name).parts or candidate.is_symlink():
        return None
    if not candidate.resolve().is_relative_to(package.resolve()):  # e.g. content/ replaced by a link
        return None
    return candidate


_SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def _check_sums(path: Path, problems: list[str]) -> dict[str, str]:
    """Check every line of SHA256SUMS as ``sha256sum -c`` does; return the actual SHA-256 of each file found."""
    actual: dict[str, str] = {}
    raw = _read(path / SUMS, problems)
    if raw is None:
        return actual
    listed: set[str] = set()
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        match = _SUMS_LINE.match(line)
        if not match:
            problems.append(f"{SUMS} line {number}: not a '<sha256>  <file>' line")
            continue
        expected, name = match.groups()
        listed.add(name)
        file = _inside(path, name)
        if file is None:
            problems.append(f"{SUMS} line {number}: {name} is not a file inside the package")
        elif not file.is_file():
            problems.append(f"{name}: listed in {SUMS} but missing")
        else:
            actual[name] = _file_sha256(file)
            if actual[name] != expected:
                problems.append(
                    f"{name}: its SHA-256 {actual[name]} differs from {SUMS} ({expected}): the file changed"
                )
    if MANIFEST not in listed:
        problems.append(f"{SUMS}: does not list {MANIFEST}")
    for file in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
        name = file.relative_to(path).as_posix()
        if name not in listed and name not in (SUMS, SIGNATURE):
            problems.append(f"{name}: not listed in {SUMS} (a file added to the package)")
    return actual


def _check_key(manifest: dict[str, Any], public_key: Ed25519PublicKey, path: Path) -> list[str]:
    """The key file, the manifest's key and the manifest's PEM must all be the same key."""
    problems = []
    node = manifest.get("node") or {}
    if node.get("public_key_hex") != _raw_hex(public_key):
        problems.append(f"{MANIFEST}: node.public_key_hex is not the key in {PUBLIC_KEY}")
    if manifest.get("public_key_pem", "").encode() != (path / PUBLIC_KEY).read_bytes():
        problems.append(f"{MANIFEST}: public_key_pem differs from {PUBLIC_KEY}")
    return problems


def _check_files(manifest: dict[str, Any], path: Path, actual: dict[str, str]) -> list[str]:
    """Every content file and other file must have the hash (and size) the signed manifest records."""
    problems = []
    expected: dict[str, str] = dict(manifest.get("files") or {})
    for record in manifest.get("items", []):
        if record.get("content_path"):
            expected[record["content_path"]] = record.get("sha256", "")
            file = _inside(path, record["content_path"])
            if file is not None and file.is_file() and file.stat().st_size != record.get("size"):
                problems.append(
                    f"{record['content_path']}: {file.stat().st_size} bytes, but exhibit "
                    f"{record.get('exhibit')} has {record.get('size')}"
                )
    for name, digest in sorted(expected.items()):
        file = _inside(path, name)
        if file is None:
            problems.append(f"{MANIFEST}: {name} is not a file inside the package")
            continue
        if not file.is_file():
            problems.append(f"{name}: named in {MANIFEST} but missing")
            continue
        found = actual.get(name) or _file_sha256(file)
        if found != digest:
            problems.append(f"{name}: its SHA-256 {found} differs from the one in {MANIFEST} ({digest})")
    return problems


def _item(data: dict[str, Any]) -> EvidenceItem:
    disposed = data.get("disposed_at")
    return EvidenceItem(
        id=str(data["id"]),
        sha256=str(data["sha256"]),
        size=int(data["size"]),
        hashes=dict(data["hashes"]),
        described=ItemDescription.from_dict(data),
        conditions=HandlingConditions.from_dict(data["conditions"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        disposed_at=datetime.fromisoformat(disposed) if disposed else None,
    )


def _check_custody(manifest: dict[str, Any], public_key: Ed25519PublicKey) -> list[str]:
    """Recompute the custody of the manifest's items: event hashes, links, checkpoints, acquisition metadata."""
    custody = manifest.get("custody") or {}
    problems: list[str] = []
    events = _parse_events(custody.get("events", []), problems)
    signed = _check_checkpoints(custody.get("checkpoints", []), events, public_key, problems)
    _check_links(events, problems)
    # From the newest event back: an event is vouched for by its own checkpoint, or by being the predecessor
    # that a vouched-for event's prev_hash names (its own hash was checked just above).
    anchored: set[int] = set()
    for seq in sorted(events, reverse=True):
        after = events.get(seq + 1)
        if signed.get(seq) == events[seq].hash or (
            after is not None and seq + 1 in anchored and after.prev_hash == events[seq].hash
        ):
            anchored.add(seq)
        else:
            problems.append(f"custody event {seq}: no checkpoint signed by the node covers it")
    return problems + _check_items(manifest, events)


def _parsed(
    entries: list[dict[str, Any]], parse: Callable[[dict[str, Any]], _T], what: str, problems: list[str]
) -> Iterator[_T]:
    """Each entry of a manifest's list, parsed; one that is malformed is reported (as ``what`` entry n) and left out."""
    for n, data in enumerate(entries, start=1):
        try:
            parsed = parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{what} entry {n} is malformed ({exc!r})")
            continue
        yield parsed


def _parse_events(entries: list[dict[str, Any]], problems: list[str]) -> dict[int, CustodyEvent]:
    events: dict[int, CustodyEvent] = {}
    for event in _parsed(entries, CustodyEvent.from_dict, "custody event", problems):
        if event.seq in events:
            problems.append(f"custody event {event.seq} appears twice")
        events[event.seq] = event
    return events


def _check_checkpoints(
    entries: list[dict[str, Any]],
    events: dict[int, CustodyEvent],
    public_key: Ed25519PublicKey,
    problems: list[str],
) -> dict[int, str]:
    """Check each checkpoint's signature and that its event is the one signed; return the good ones' hashes."""
    signed: dict[int, str] = {}
    for cp in _parsed(entries, Checkpoint.from_dict, "checkpoint", problems):
        if not verify_signature(public_key, cp.signature, cp.message()):
            problems.append(f"checkpoint {cp.seq}: its signature does not verify with the package's public key")
        elif cp.seq not in events:
            problems.append(f"checkpoint {cp.seq}: its event is not in the package")
        elif events[cp.seq].hash != cp.head_hash:
            problems.append(f"checkpoint {cp.seq}: event {cp.seq} differs from what the node signed")
        else:
            signed[cp.seq] = cp.head_hash
    return signed


def _check_links(events: dict[int, CustodyEvent], problems: list[str]) -> None:
    """Each event's hash recomputed from its fields, and its link to the event before it where that is included."""
    for seq, event in sorted(events.items()):
        label = f"custody event {seq} ({event.action.value} of item {event.item_id})"
        if event.computed_hash() != event.hash:
            problems.append(f"{label} was altered: its contents do not match its hash")
        before = events.get(seq - 1)
        if seq == 1 and event.prev_hash != GENESIS:
            problems.append(f"{label} is the first of the ledger but does not start the chain")
        elif before is not None and event.prev_hash != before.hash:
            problems.append(f"{label} does not follow event {seq - 1} (chain broken)")


def _check_items(manifest: dict[str, Any], events: dict[int, CustodyEvent]) -> list[str]:
    """Each item's metadata must be those its acquire event recorded; every event must be of a packaged item."""
    problems = []
    items: dict[str, EvidenceItem] = {}
    for n, data in enumerate(manifest.get("items", []), start=1):
        try:
            items[data["id"]] = _item(data)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"item entry {n} is malformed ({exc!r})")
    for item in items.values():
        history = [e for _, e in sorted(events.items()) if e.item_id == item.id]
        problems += check_item(item, history)
    problems += [
        f"custody event {seq} is of item {e.item_id}, which is not in the package"
        for seq, e in sorted(events.items())
        if e.item_id not in items
    ]
    return problems
