"""Court packages checked by the tools a court has — ``sha256sum``, ``openssl``, ``jq``, Python — and by hanoinet.

The tamper tests decide what a package proves: any changed byte is caught by the outside tools; a package
re-signed with another key is caught by the custody checkpoints (signed by the node's key) and, in the end, only by
comparing the key with the node's published one — which is why VERIFY.txt starts with that step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tracemalloc
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, URIRef

from hanoinet.evidence.case_uco import NodeInfo
from hanoinet.evidence.court_package import PackageEntry, PackageError, verify_package, write_package
from hanoinet.evidence.domain import (
    Checkpoint,
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    metadata_digest,
    next_event,
)
from hanoinet.platform.canonical import canonical
from hanoinet.platform.keys import NodeKeys, ensure_keys

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
OPENSSL_OK = "Signature Verified Successfully"


def make_item(n: int, content: bytes, *, exhibit: str, disposed: bool = False) -> EvidenceItem:
    return EvidenceItem(
        id=f"item-{n}",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        hashes={"sha256": hashlib.sha256(content).hexdigest(), "md5": hashlib.md5(content).hexdigest()},  # noqa: S324
        described=ItemDescription(
            case_id="case-1",
            exhibit=exhibit,
            source="phone of suspect, seized in Đà Nẵng",
            acquisition_method="logical extraction",
            acquisition_tool="extractor 7.1",
            acquired_by="Officer Trần",
            acquired_at=NOW - timedelta(days=2),
            description="chat database",
            file_name=f"extract-{n}.zip",
        ),
        conditions=HandlingConditions(purpose="case LOTUS only", retention_until=date(2030, 1, 1)),
        created_at=NOW - timedelta(days=1),
        disposed_at=NOW + timedelta(hours=4) if disposed else None,
    )


class Ledger:
    """The node's ledger as the vault keeps it: one chain over all items, a signed checkpoint after each event."""

    def __init__(self, keys: NodeKeys) -> None:
        self.keys = keys
        self.events: list[CustodyEvent] = []
        self.checkpoints: list[Checkpoint] = []

    def record(self, item_id: str, action: CustodyAction, reason: str, **details: Any) -> None:
        at = NOW + timedelta(minutes=len(self.events))
        event = next_event(
            self.events[-1] if self.events else None,
            item_id=item_id,
            action=action,
            actor="clerk.nguyen",
            at=at,
            reason=reason,
            details=details,
        )
        self.events.append(event)
        unsigned = Checkpoint(event.seq, event.hash, at, b"")
        self.checkpoints.append(replace(unsigned, signature=self.keys.sign(unsigned.message())))

    def history(self, item_ids: set[str]) -> list[CustodyEvent]:
        return [e for e in self.events if e.item_id in item_ids]


CONTENTS = {
    "A/1 (phone)": os.urandom(3 * 1024 * 1024 + 17),
    "A-2": "tin nhắn: Bằng chứng\n".encode(),
    "A-3 empty": b"",
}


@pytest.fixture
def keys(tmp_path: Path) -> NodeKeys:
    return ensure_keys(tmp_path / "keys")


@pytest.fixture
def node(keys: NodeKeys) -> NodeInfo:
    return NodeInfo(name="Central Authority of Viet Nam", state="VN", public_key_hex=keys.public_key_hex())


def chunks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Exhibits:
    """Items with content, one disposed item, and another case's item whose events share the ledger."""

    def __init__(self, keys: NodeKeys) -> None:
        self.ledger = Ledger(keys)
        self.items = [make_item(n, data, exhibit=ex) for n, (ex, data) in enumerate(CONTENTS.items(), start=1)]
        self.disposed = make_item(9, b"old", exhibit="A-9", disposed=True)
        other = make_item(50, b"another case", exhibit="Z-1")
        for item in [*self.items, other, self.disposed]:
            self.ledger.record(item.id, CustodyAction.ACQUIRE, "ingest", metadata_digest=metadata_digest(item))
        self.ledger.record(self.items[0].id, CustodyAction.VIEW, "review", ok=True)
        self.ledger.record(other.id, CustodyAction.DOWNLOAD, "another case's work")
        self.ledger.record(self.disposed.id, CustodyAction.DISPOSE, "retention period ended")
        self.ledger.record(self.items[1].id, CustodyAction.EXPORT, "court package for LOTUS")
        self.entries = [PackageEntry(i, partial(chunks, CONTENTS[i.described.exhibit])) for i in self.items]
        self.entries.append(PackageEntry(self.disposed, None))

    @property
    def events(self) -> list[CustodyEvent]:
        return self.ledger.history({e.item.id for e in self.entries})


@pytest.fixture
def exhibits(keys: NodeKeys) -> Exhibits:
    return Exhibits(keys)


def write(dest: Path, exhibits: Exhibits, keys: NodeKeys, node: NodeInfo, **overrides: Any) -> Path:
    args: dict[str, Any] = {
        "entries": exhibits.entries,
        "events": exhibits.events,
        "checkpoints": exhibits.ledger.checkpoints,
    } | overrides
    return write_package(
        dest,
        args["entries"],
        args["events"],
        args["checkpoints"],
        keys,
        node,
        case_reference="LOTUS-2027/14",
        exported_by="prosecutor.le",
        exported_at=NOW + timedelta(hours=6),
    )


@pytest.fixture
def package(tmp_path: Path, exhibits: Exhibits, keys: NodeKeys, node: NodeInfo) -> Path:
    return write(tmp_path / "out" / "package", exhibits, keys, node)


def run(args: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False)


def sha256sum_check(package: Path) -> subprocess.CompletedProcess[bytes]:
    return run(["sha256sum", "-c", "SHA256SUMS"], package)


def openssl_verify(package: Path) -> subprocess.CompletedProcess[bytes]:
    return run(
        [
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "node-signing.pub.pem",
            "-rawin", "-in", "manifest.json", "-sigfile", "manifest.sig",
        ],
        package,
    )  # fmt: skip


def manifest_of(package: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((package / "manifest.json").read_bytes())
    return data


def test_the_outside_tools_accept_a_fresh_package(package: Path, exhibits: Exhibits, keys: NodeKeys) -> None:
    sums = sha256sum_check(package)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    checked = sums.stdout.decode().splitlines()
    assert all(line.endswith(": OK") for line in checked)
    assert len(checked) == 3 + 4  # three content files; case.jsonld, manifest.json, the key, VERIFY.txt
    signature = openssl_verify(package)
    assert signature.returncode == 0, signature.stdout + signature.stderr
    assert OPENSSL_OK in signature.stdout.decode()
    assert verify_package(package) == []
    assert verify_package(package, expected_public_key_hex=keys.public_key_hex()) == []

    contents = sorted(p.name for p in (package / "content").iterdir())
    prefixes = {"A/1 (phone)": "A_1_phone", "A-2": "A-2", "A-3 empty": "A-3_empty"}  # safe in any file system
    expected = sorted(f"{prefixes[i.described.exhibit]}-{i.sha256[:12]}.bin" for i in exhibits.items)
    assert contents == expected  # and none for the disposed item
    for item in exhibits.items:
        record = next(r for r in manifest_of(package)["items"] if r["id"] == item.id)
        assert (package / record["content_path"]).read_bytes() == CONTENTS[item.described.exhibit]
    assert (package / "manifest.sig").stat().st_size == 64
    assert sorted(p.name for p in package.parent.iterdir()) == ["package"]  # no temporary directory left


def test_the_manifest_states_everything_a_court_asks(package: Path, exhibits: Exhibits, keys: NodeKeys) -> None:
    raw = (package / "manifest.json").read_bytes()
    manifest = json.loads(raw)
    assert canonical(manifest) == raw
    assert manifest["case_reference"] == "LOTUS-2027/14"
    assert manifest["node"]["public_key_hex"] == keys.public_key_hex()
    assert (
        manifest["public_key_pem"].encode() == keys.public_key_pem() == (package / "node-signing.pub.pem").read_bytes()
    )
    assert manifest["exported_by"] == "prosecutor.le"
    by_id = {r["id"]: r for r in manifest["items"]}
    disposed = by_id[exhibits.disposed.id]
    assert disposed["content_path"] is None
    assert disposed["disposed_at"] is not None
    assert disposed["hashes"] == exhibits.disposed.hashes
    first = by_id[exhibits.items[0].id]
    assert first["conditions"]["purpose"] == "case LOTUS only"
    assert first["size"] == len(CONTENTS["A/1 (phone)"])
    assert first["metadata_digest"] == metadata_digest(exhibits.items[0])
    assert [e["seq"] for e in manifest["custody"]["events"]] == [e.seq for e in exhibits.events]
    assert {4, 7}.isdisjoint(e["seq"] for e in manifest["custody"]["events"])  # not the other case's events
    assert all("hash" in e and "prev_hash" in e for e in manifest["custody"]["events"])
    checkpoint = manifest["custody"]["checkpoints"][0]
    assert len(base64.b64decode(checkpoint["signature"])) == 64
    assert "SHA-256 of the canonical JSON" in manifest["rules"]["custody_event_hash"]


def test_verify_txt_recipes_work_with_jq_openssl_and_python(package: Path) -> None:
    """Every command VERIFY.txt gives a court's examiner is run here exactly as written."""
    text = (package / "VERIFY.txt").read_text(encoding="utf-8")
    commands = [line.strip() for line in text.splitlines() if line.startswith("       ")]
    assert "sha256sum -c SHA256SUMS" in commands
    assert any(c.startswith("openssl pkeyutl -verify") and "manifest.sig" in c for c in commands)
    key_hex = run(["sh", "-c", next(c for c in commands if c.startswith("openssl pkey "))], package)
    assert key_hex.stdout.decode() == manifest_of(package)["node"]["public_key_hex"]
    if shutil.which("jq"):
        event_hash = run(["sh", "-c", next(c for c in commands if "events[0] | del(.hash)" in c)], package)
        assert event_hash.stdout.decode().split()[0] == manifest_of(package)["custody"]["events"][0]["hash"]
        checkpoint = [c for c in commands if "cp." in c]
        assert len(checkpoint) == 3
        assert OPENSSL_OK in run(["sh", "-c", " && ".join(checkpoint)], package).stdout.decode()
    script = text.split("-----\n")[1]
    (package.parent / "check_custody.py").write_text(script, encoding="utf-8")
    out = run([sys.executable, str(package.parent / "check_custody.py")], package).stdout.decode().splitlines()
    assert len(out) == len(manifest_of(package)["custody"]["events"])
    assert all(line.endswith(" OK") for line in out), out


def test_case_jsonld_in_the_package_passes_case_validate(package: Path, exhibits: Exhibits) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "case_validate"), "--built-version", "case-1.5.0", "case.jsonld"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conforms: True" in result.stdout
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates: not ours to fix.
        warnings.filterwarnings("ignore", message="ConjunctiveGraph is deprecated", category=DeprecationWarning)
        graph = Graph().parse(package / "case.jsonld", format="json-ld")
    values = {
        str(o).lower()
        for o in graph.objects(None, URIRef("https://ontology.unifiedcyberontology.org/uco/types/hashValue"))
    }
    assert {i.sha256 for i in [*exhibits.items, exhibits.disposed]} <= values


def test_a_flipped_content_byte_is_named_by_sha256sum_and_verify(package: Path) -> None:
    record = next(r for r in manifest_of(package)["items"] if r["exhibit"] == "A-2")
    path = package / record["content_path"]
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))

    sums = sha256sum_check(package)
    assert sums.returncode != 0
    assert f"{record['content_path']}: FAILED" in sums.stdout.decode()
    assert openssl_verify(package).returncode == 0  # the manifest itself is untouched
    problems = verify_package(package)
    assert problems
    assert all(record["content_path"] in p for p in problems), problems


def test_one_changed_character_in_the_manifest_breaks_the_signature(package: Path) -> None:
    path = package / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"LOTUS-2027/14"', b'"LOTUS-2027/15"', 1))

    signature = openssl_verify(package)
    assert signature.returncode != 0
    assert OPENSSL_OK not in signature.stdout.decode()
    assert sha256sum_check(package).returncode != 0
    problems = verify_package(package)
    assert any(p.startswith("manifest.sig: the signature does not verify") for p in problems), problems


def resign(package: Path, manifest: dict[str, Any], forger: NodeKeys) -> None:
    """What a forger with their own key can do: rewrite the manifest, the key file, the signature and the sums."""
    pem = forger.public_key_pem()
    manifest["node"]["public_key_hex"] = forger.public_key_hex()
    manifest["public_key_pem"] = pem.decode()
    manifest["files"]["node-signing.pub.pem"] = hashlib.sha256(pem).hexdigest()
    raw = canonical(manifest)
    (package / "manifest.json").write_bytes(raw)
    (package / "node-signing.pub.pem").write_bytes(pem)
    (package / "manifest.sig").write_bytes(forger.sign(raw))
    sums = (package / "SHA256SUMS").read_text()
    sums = re.sub(r"^\w+(  manifest\.json)$", hashlib.sha256(raw).hexdigest() + r"\1", sums, flags=re.M)
    sums = re.sub(r"^\w+(  node-signing\.pub\.pem)$", hashlib.sha256(pem).hexdigest() + r"\1", sums, flags=re.M)
    (package / "SHA256SUMS").write_text(sums)


def test_an_altered_event_resigned_with_another_key_fails_the_custody_checks(
    package: Path, keys: NodeKeys, tmp_path: Path
) -> None:
    forger = ensure_keys(tmp_path / "forger")
    manifest = manifest_of(package)
    view = next(e for e in manifest["custody"]["events"] if e["action"] == "view")
    view["actor"] = "nobody"
    resign(package, manifest, forger)

    # The outside tools only say that the package is consistent with the key inside it ...
    assert sha256sum_check(package).returncode == 0
    assert openssl_verify(package).returncode == 0
    # ... hanoinet's check recomputes the custody: the event's hash, and the node's checkpoints, which the forger
    # could not re-sign with the node's key.
    problems = verify_package(package)
    assert f"custody event {view['seq']} (view of item item-1) was altered: its contents do not match its hash" in (
        problems
    )
    assert any(p.startswith(f"checkpoint {view['seq']}: its signature does not verify") for p in problems)
    assert any(p == f"custody event {view['seq']}: no checkpoint signed by the node covers it" for p in problems)
    mismatch = verify_package(package, expected_public_key_hex=keys.public_key_hex())
    assert f"not the node's key {keys.public_key_hex()}" in mismatch[0]


def test_a_complete_forgery_is_caught_only_by_the_node_s_published_key(
    package: Path, keys: NodeKeys, tmp_path: Path
) -> None:
    """A forger who recomputes every hash and re-signs every checkpoint makes a package consistent with itself:
    what proves a package is the node's is the node's key, which the reader must know from elsewhere."""
    forger = ensure_keys(tmp_path / "forger")
    manifest = manifest_of(package)
    events = manifest["custody"]["events"]
    view = next(e for e in events if e["action"] == "view")
    view["actor"] = "nobody"
    rehashed: dict[int, str] = {}
    for e in events:
        if e["seq"] - 1 in rehashed:
            e["prev_hash"] = rehashed[e["seq"] - 1]
        if e["seq"] >= view["seq"]:
            new = hashlib.sha256(canonical({k: v for k, v in e.items() if k != "hash"})).hexdigest()
            rehashed[e["seq"]] = e["hash"] = new
    for cp in manifest["custody"]["checkpoints"]:
        cp["head_hash"] = next(e["hash"] for e in events if e["seq"] == cp["seq"])
        message = canonical({"ledger": "hanoinet-custody", "seq": cp["seq"], "head_hash": cp["head_hash"]})
        cp["signature"] = base64.b64encode(forger.sign(message)).decode()
    resign(package, manifest, forger)

    assert verify_package(package) == []
    assert verify_package(package, expected_public_key_hex=keys.public_key_hex()) == [
        f"node-signing.pub.pem: the package is signed with key {forger.public_key_hex()}, "
        f"not the node's key {keys.public_key_hex()}"
    ]
    # The outside-tool way: step 1 of VERIFY.txt prints the hex of the key file, which is not the node's.
    text = (package / "VERIFY.txt").read_text(encoding="utf-8")
    command = next(line.strip() for line in text.splitlines() if line.strip().startswith("openssl pkey "))
    assert run(["sh", "-c", command], package).stdout.decode() == forger.public_key_hex() != keys.public_key_hex()


def test_content_that_is_not_the_recorded_content_is_refused_and_nothing_is_left(
    tmp_path: Path, exhibits: Exhibits, keys: NodeKeys, node: NodeInfo
) -> None:
    entries = list(exhibits.entries)
    entries[1] = PackageEntry(exhibits.items[1], lambda: iter([b"tin nhan: doctored\n"]))
    dest = tmp_path / "out" / "package"
    dest.mkdir(parents=True)  # an empty directory prepared for the package stays empty
    with pytest.raises(PackageError, match=f"item {exhibits.items[1].id} \\(exhibit A-2\\): the content streamed"):
        write(dest, exhibits, keys, node, entries=entries)
    assert list(dest.iterdir()) == []
    assert [p.name for p in dest.parent.iterdir()] == ["package"]


def test_a_package_is_never_written_over_something(
    tmp_path: Path, exhibits: Exhibits, keys: NodeKeys, node: NodeInfo
) -> None:
    dest = tmp_path / "package"
    dest.mkdir()
    (dest / "notes.txt").write_text("someone's work")
    with pytest.raises(FileExistsError):
        write(dest, exhibits, keys, node)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_custody_that_does_not_verify_is_not_exported(
    tmp_path: Path, exhibits: Exhibits, keys: NodeKeys, node: NodeInfo
) -> None:
    dest = tmp_path / "package"
    events = exhibits.events
    events[2] = replace(events[2], reason="changed in the database")
    with pytest.raises(PackageError, match=f"custody event {events[2].seq} .* was altered"):
        write(dest, exhibits, keys, node, events=events)
    with pytest.raises(PackageError, match="is of item item-50, which is not in the package"):
        write(dest, exhibits, keys, node, events=exhibits.ledger.events)
    without_acquisition = [e for e in exhibits.events if e.action is not CustodyAction.ACQUIRE or e.seq != 1]
    with pytest.raises(PackageError, match="item item-1: no acquisition event"):
        write(dest, exhibits, keys, node, events=without_acquisition)
    assert not dest.exists()


def test_content_is_streamed_in_constant_memory(tmp_path: Path, keys: NodeKeys, node: NodeInfo) -> None:
    size, block = 48 * 1024 * 1024, os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    for _ in range(size // len(block)):
        digest.update(block)
    item = replace(make_item(7, b"", exhibit="BIG"), sha256=digest.hexdigest(), size=size, hashes={})
    ledger = Ledger(keys)
    ledger.record(item.id, CustodyAction.ACQUIRE, "ingest", metadata_digest=metadata_digest(item))
    (tmp_path / "big").mkdir()  # an empty directory made ready for the package is filled
    tracemalloc.start()
    try:
        path = write_package(
            tmp_path / "big",
            [PackageEntry(item, lambda: (block for _ in range(size // len(block))))],
            ledger.events,
            ledger.checkpoints,
            keys,
            node,
            case_reference="LOTUS-2027/14",
            exported_by="prosecutor.le",
            exported_at=NOW,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while exporting 48 MiB"
    assert verify_package(path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "keys"]
