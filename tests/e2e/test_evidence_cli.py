"""``hanoinet evidence …`` and ``hanoinet token …`` end to end: the real console script on a data directory, and the
outside tools a court's examiner has (``sha256sum``, ``openssl``) on what it exports.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hanoinet.evidence.vault import HEADER_SIZE
from tests.e2e.conftest import HANOINET, Run
from tests.factories import reference

MiB = 1024 * 1024
ACTOR = "Officer Trần Văn An"
ACQUIRED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()


def hanoinet(
    data_dir: Path, *args: str, roles: str | None = None, stdin: bytes | None = None, prefix: tuple[str, ...] = ()
) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
    env.update({"HANOINET_NODE_STATE": "VNM", "HANOINET_ACTOR": ACTOR, "NO_COLOR": "1", "COLUMNS": "200"})
    if roles is not None:
        env["HANOINET_ROLES"] = roles
    done = subprocess.run(
        [*prefix, HANOINET, "--data-dir", str(data_dir), *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    run = Run(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in run.err, run.err
    assert "Traceback" not in run.out, run.out
    return run


def succeeds(data_dir: Path, *args: str, stdin: bytes | None = None) -> Run:
    run = hanoinet(data_dir, *args, stdin=stdin)
    assert run.code == 0, run
    return run


@dataclass(frozen=True)
class Vault:
    data_dir: Path
    case: str
    public_key_hex: str


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    data_dir = tmp_path_factory.mktemp("evidence-cli") / "node"
    init = succeeds(data_dir, "init")
    public_key_hex = init.out.split("node signing key")[1].split()[0]
    ref = reference("LOTUS")
    succeeds(
        data_dir,
        "case",
        "new",
        "--reference",
        ref,
        "--offence",
        "system_interference",
        "--summary",
        "Tấn công mã độc tống tiền vào bệnh viện",
        "--max-penalty",
        "10",
    )
    return Vault(data_dir, ref, public_key_hex)


def ingest(vault: Vault, file: str, exhibit: str, *extra: str, stdin: bytes | None = None) -> dict[str, Any]:
    run = succeeds(
        vault.data_dir,
        "evidence",
        "ingest",
        file,
        "--case",
        vault.case,
        "--exhibit",
        exhibit,
        "--source",
        "server HN-DB-01 of Bạch Mai hospital",
        "--method",
        "physical image",
        "--tool",
        "dc3dd 7.3.1",
        "--acquired-by",
        ACTOR,
        "--acquired-at",
        ACQUIRED_AT,
        "--json",
        *extra,
        stdin=stdin,
    )
    item: dict[str, Any] = run.json()
    return item


def show(vault: Vault, item_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = succeeds(vault.data_dir, "evidence", "show", item_id).json()
    return shown


@pytest.fixture(scope="module")
def image(vault: Vault) -> tuple[Path, bytes, dict[str, Any]]:
    """A 5 MiB disk image ingested with SHA-1 and MD5 as well."""
    content = random.Random(1).randbytes(5 * MiB + 3)
    path = vault.data_dir.parent / "hn-db-01.img"
    path.write_bytes(content)
    item = ingest(vault, str(path), "LOTUS/B-1", "--sha1", "--md5")
    return path, content, item


def test_ingest_list_show_and_verify(vault: Vault, image: tuple[Path, bytes, dict[str, Any]]) -> None:
    path, content, item = image
    assert item["hashes"] == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "sha1": hashlib.sha1(content).hexdigest(),  # noqa: S324 - legacy court systems ask for it
        "md5": hashlib.md5(content).hexdigest(),  # noqa: S324
    }
    assert (item["size"], item["file_name"], item["acquired_by"]) == (len(content), path.name, ACTOR)

    piped = b"chat export from the suspect's phone\n" * 1000
    from_stdin = ingest(vault, "-", "LOTUS/B-2", stdin=piped)
    assert from_stdin["sha256"] == hashlib.sha256(piped).hexdigest()
    assert from_stdin["hashes"] == {"sha256": from_stdin["sha256"]}
    assert from_stdin["size"] == len(piped)
    assert from_stdin["file_name"] == ""

    listed = succeeds(vault.data_dir, "evidence", "list", "--case", vault.case, "--json").json()
    assert {i["id"]: i["sha256"] for i in listed} == {
        item["id"]: item["sha256"],
        from_stdin["id"]: from_stdin["sha256"],
    }

    shown = show(vault, item["id"])
    assert shown["sha256"] == item["sha256"]
    (acquired,) = shown["custody"]
    assert (acquired["action"], acquired["actor"], acquired["details"]["hashes"]) == ("acquire", ACTOR, item["hashes"])

    run = succeeds(vault.data_dir, "evidence", "verify", "--all")
    assert "all intact" in run.out
    neither = hanoinet(vault.data_dir, "evidence", "verify")
    assert neither.code == 1
    assert "give an item id or --all" in neither.err


def test_download_writes_the_same_bytes_and_never_overwrites(
    vault: Vault, image: tuple[Path, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, content, item = image
    out = tmp_path / "copy.img"
    run = succeeds(
        vault.data_dir, "evidence", "download", item["id"], "--reason", "forensic examination", "-o", str(out)
    )
    assert out.read_bytes() == content
    assert "(verified)" in run.out
    last = show(vault, item["id"])["custody"][-1]
    assert (last["action"], last["actor"], last["reason"]) == ("download", ACTOR, "forensic examination")

    out.write_bytes(b"the examiner's notes")
    again = hanoinet(vault.data_dir, "evidence", "download", item["id"], "--reason", "again", "-o", str(out))
    assert again.code == 1
    assert "exists" in again.err
    assert out.read_bytes() == b"the examiner's notes"
    assert show(vault, item["id"])["custody"][-1] == last  # nothing was downloaded, nothing recorded


def test_a_role_without_the_right_is_refused_clearly_and_recorded(
    vault: Vault, image: tuple[Path, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, _, item = image
    out = tmp_path / "night.img"
    refused = hanoinet(
        vault.data_dir,
        "evidence",
        "download",
        item["id"],
        "--reason",
        "night shift",
        "-o",
        str(out),
        roles="duty_officer",
    )
    assert refused.code == 5
    assert f"{ACTOR} may not download item {item['id']}" in refused.err
    assert "refusal is recorded" in refused.err
    assert list(tmp_path.iterdir()) == []
    last = show(vault, item["id"])["custody"][-1]
    assert (last["action"], last["details"]["attempted"], last["details"]["roles"]) == (
        "access_refused",
        "download",
        ["duty_officer"],
    )

    bogus = hanoinet(
        vault.data_dir, "evidence", "download", item["id"], "--reason", "x", "-o", str(out), roles="janitor"
    )
    assert bogus.code == 1
    assert "HANOINET_ROLES: 'janitor'" in bogus.err
    assert not out.exists()


def test_a_full_disk_gives_a_clear_error_and_leaves_the_vault_consistent(vault: Vault, tmp_path: Path) -> None:
    """The process may not write more than 1 MiB per file (as on a full disk, the write fails) while ingesting 3."""
    source = tmp_path / "phone.bin"
    source.write_bytes(random.Random(8).randbytes(3 * MiB))
    before = succeeds(vault.data_dir, "evidence", "list", "--json").json()

    full = hanoinet(
        vault.data_dir, "evidence", "ingest", str(source), "--case", vault.case, "--exhibit", "LOTUS/B-full",
        "--source", "phone", "--method", "logical extraction", "--acquired-by", ACTOR,
        prefix=("prlimit", f"--fsize={MiB}"),
    )  # fmt: skip
    assert full.code != 0
    assert "nothing was stored" in full.err
    assert list((vault.data_dir / "vault" / "tmp").glob("*.partial")) == []
    assert succeeds(vault.data_dir, "evidence", "list", "--json").json() == before
    assert succeeds(vault.data_dir, "evidence", "verify", "--all").code == 0


def openssl_verify(package: Path) -> subprocess.CompletedProcess[str]:
    command = (
        "openssl pkeyutl -verify -pubin -inkey node-signing.pub.pem -rawin -in manifest.json -sigfile manifest.sig"
    )
    return subprocess.run(
        command.split(),
        cwd=package,
        capture_output=True,
        text=True,
        check=False,
    )


def sha256sum_check(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=package, capture_output=True, text=True, check=False
    )


def test_export_a_court_package_that_outside_tools_accept(
    vault: Vault, image: tuple[Path, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, content, item = image
    package = tmp_path / "LOTUS-package"
    run = succeeds(vault.data_dir, "evidence", "export", "--case", vault.case, "--reason", "trial", "-o", str(package))
    assert "sha256sum -c SHA256SUMS" in run.out

    sums = sha256sum_check(package)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    signature = openssl_verify(package)
    assert signature.returncode == 0, signature.stdout + signature.stderr
    assert "Signature Verified Successfully" in signature.stdout

    manifest = json.loads((package / "manifest.json").read_bytes())
    assert manifest["node"]["public_key_hex"] == vault.public_key_hex  # the key `hanoinet init` published
    (record,) = [r for r in manifest["items"] if r["id"] == item["id"]]
    assert (package / record["content_path"]).read_bytes() == content
    exports = [e for e in manifest["custody"]["events"] if e["item_id"] == item["id"] and e["action"] == "export"]
    assert [e["reason"] for e in exports] == ["trial"]

    # the same tools catch a change
    content_file = package / record["content_path"]
    data = bytearray(content_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    content_file.write_bytes(bytes(data))
    broken = sha256sum_check(package)
    assert broken.returncode != 0
    assert f"{record['content_path']}: FAILED" in broken.stdout
    manifest_file = package / "manifest.json"
    manifest_file.write_bytes(manifest_file.read_bytes().replace(b'"trial"', b'"trail"', 1))
    assert openssl_verify(package).returncode != 0

    again = hanoinet(
        vault.data_dir, "evidence", "export", "--case", vault.case, "--reason", "trial", "-o", str(package)
    )
    assert again.code == 1
    assert "not empty" in again.err

    graph_file = tmp_path / "case.jsonld"
    succeeds(
        vault.data_dir,
        "evidence",
        "export",
        "--case",
        vault.case,
        "--reason",
        "for the defence expert",
        "--format",
        "case",
        "-o",
        str(graph_file),
    )
    graph = json.loads(graph_file.read_text(encoding="utf-8"))
    assert item["hashes"]["md5"] in json.dumps(graph)
    assert "@graph" in graph


def test_dispose_is_refused_before_the_retention_end(vault: Vault, tmp_path: Path) -> None:
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    source = tmp_path / "logs.txt"
    source.write_bytes(b"router logs")
    item = ingest(vault, str(source), "LOTUS/B-3", "--retain-until", until, "--purpose", "trial of LOTUS")
    assert item["conditions"]["retention_until"] == until

    refused = hanoinet(vault.data_dir, "evidence", "dispose", item["id"], "--reason", "tidy up")
    assert refused.code == 2
    assert "retention_until" in refused.err
    assert until in refused.err
    shown = show(vault, item["id"])
    assert shown["disposed_at"] is None
    assert [e["action"] for e in shown["custody"]] == ["acquire"]


def test_tokens_are_shown_once_stored_hashed_and_revocable(vault: Vault) -> None:
    added = succeeds(vault.data_dir, "token", "add", "forensic-lab", "--role", "investigator")
    (token,) = added.out.split()
    assert token.startswith("hnt_")
    assert len(token) > 40
    assert "store this token now" in added.err
    assert token not in added.err
    database = (vault.data_dir / "hanoinet.db").read_bytes() + b"".join(
        p.read_bytes() for p in vault.data_dir.glob("hanoinet.db-*")
    )
    assert token.encode() not in database
    assert hashlib.sha256(token.encode()).hexdigest().encode() in database

    twice = hanoinet(vault.data_dir, "token", "add", "forensic-lab", "--role", "investigator")
    assert twice.code == 3
    assert "already exists" in twice.err
    assert twice.out == ""

    assert "revoked" in succeeds(vault.data_dir, "token", "revoke", "forensic-lab").out
    again = hanoinet(vault.data_dir, "token", "revoke", "forensic-lab")
    assert again.code == 4
    assert "no active token" in again.err


@contextmanager
def flipped(blob: Path, offset: int, rng: random.Random) -> Iterator[None]:
    """One byte of a stored blob changed for the duration of the block."""
    original = blob.read_bytes()
    damaged = bytearray(original)
    damaged[offset] ^= rng.randrange(1, 256)
    blob.write_bytes(bytes(damaged))
    try:
        yield
    finally:
        blob.write_bytes(original)


def test_a_flipped_byte_in_a_blob_fails_verify_download_and_export(
    vault: Vault, image: tuple[Path, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, _, item = image
    blob = vault.data_dir / "vault" / "blobs" / item["sha256"][:2] / item["sha256"]
    rng = random.Random(5)
    out = tmp_path / "copy.img"
    with flipped(blob, rng.randrange(HEADER_SIZE, blob.stat().st_size), rng):
        run = hanoinet(vault.data_dir, "evidence", "verify", "--all")
        assert run.code == 1
        assert item["id"] in run.err
        assert "LOTUS/B-1" in run.err
        assert "chunk" in run.err
        assert "problem(s)" in run.out

        download = hanoinet(vault.data_dir, "evidence", "download", item["id"], "--reason", "court", "-o", str(out))
        assert download.code == 6  # damaged evidence has its own exit code
        assert "download stopped, nothing kept" in download.err
        assert list(tmp_path.iterdir()) == []

        package = tmp_path / "package"
        export = hanoinet(
            vault.data_dir, "evidence", "export", "--case", vault.case, "--reason", "x", "-o", str(package)
        )
        assert export.code != 0
        assert "LOTUS/B-1" in export.err or item["sha256"] in export.err  # says which content is damaged
        assert list(tmp_path.iterdir()) == []  # no half package
    assert succeeds(vault.data_dir, "evidence", "verify", "--all").code == 0


def test_a_damaged_blob_header_stops_a_download_cleanly(
    vault: Vault, image: tuple[Path, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, _, item = image
    blob = vault.data_dir / "vault" / "blobs" / item["sha256"][:2] / item["sha256"]
    rng = random.Random(6)
    out = tmp_path / "copy.img"
    with flipped(blob, rng.randrange(HEADER_SIZE), rng):
        download = hanoinet(vault.data_dir, "evidence", "download", item["id"], "--reason", "court", "-o", str(out))
        assert download.code != 0
        assert "bad header" in download.err
        assert list(tmp_path.iterdir()) == []
