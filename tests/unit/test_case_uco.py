"""CASE/UCO export: the real ``case_validate`` of case-utils accepts the graph, and the graph holds what courts ask.

``case_validate`` runs as a subprocess (about 1.5 s each), so only two runs here: the export, and a broken copy of
it that must be rejected — proof that the validator really reads our terms rather than ignoring them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.query import ResultRow

from hanoinet.evidence.case_uco import NodeInfo, case_bundle
from hanoinet.evidence.domain import (
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    metadata_digest,
    next_event,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NODE = NodeInfo(name="Central Authority of Viet Nam", state="VN", public_key_hex="ab" * 32)
CASE_VALIDATE = Path(sys.executable).parent / "case_validate"
UCO = "https://ontology.unifiedcyberontology.org/uco/"
INVESTIGATION = "https://ontology.caseontology.org/case/investigation/"


def make_item(n: int, content: bytes, *, legacy: bool = False, disposed: bool = False) -> EvidenceItem:
    hashes = {"sha256": hashlib.sha256(content).hexdigest()}
    if legacy:
        hashes |= {"sha1": hashlib.sha1(content).hexdigest(), "md5": hashlib.md5(content).hexdigest()}  # noqa: S324
    return EvidenceItem(
        id=f"00000000-0000-4000-8000-00000000000{n}",
        sha256=hashes["sha256"],
        size=len(content),
        hashes=hashes,
        described=ItemDescription(
            case_id="case-1",
            exhibit=f"LOTUS/B-{n}",
            source="server image at provider X",
            acquisition_method="physical image",
            acquisition_tool="dd 9.4",
            acquired_by="Officer Trần Văn An",
            acquired_at=NOW - timedelta(days=3, hours=n),
            description=f"disk {n}",
            file_name=f"disk{n}.img",
        ),
        conditions=HandlingConditions(purpose="investigation LOTUS only"),
        created_at=NOW - timedelta(days=1),
        disposed_at=NOW + timedelta(hours=5) if disposed else None,
    )


def custody(items: list[EvidenceItem]) -> list[CustodyEvent]:
    """Acquisition of each item, then views, an export and a disposal, chained as the ledger chains them."""
    events: list[CustodyEvent] = []

    def add(item: EvidenceItem, action: CustodyAction, actor: str, reason: str, **details: Any) -> None:
        at = NOW + timedelta(minutes=len(events))
        events.append(
            next_event(
                events[-1] if events else None,
                item_id=item.id,
                action=action,
                actor=actor,
                at=at,
                reason=reason,
                details=details,
            )
        )

    for item in items:
        add(item, CustodyAction.ACQUIRE, "clerk.nguyen", "ingest", metadata_digest=metadata_digest(item))
    add(items[0], CustodyAction.VIEW, "prosecutor.le", "review before hearing")
    add(items[1], CustodyAction.EXPORT, "Officer Trần Văn An", "court package", package="pkg-1")
    add(items[-1], CustodyAction.DISPOSE, "admin", "retention period ended")
    return events


@pytest.fixture
def exported() -> tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]]:
    items = [make_item(1, b"first image", legacy=True), make_item(2, b"second"), make_item(3, b"x", disposed=True)]
    events = custody(items)
    return items, events, case_bundle(items, events, node=NODE, case_reference="LOTUS-2027/14")


def case_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the real validator, offline, against the CASE version the export targets; no allowances."""
    return subprocess.run(
        [str(CASE_VALIDATE), "--built-version", "case-1.5.0", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_case_validate_accepts_the_export_with_no_allowances(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.jsonld"
    bundle.write_text(json.dumps(exported[2], indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    result = case_validate(bundle)
    assert "Conforms: True" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_case_validate_rejects_a_broken_export(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]], tmp_path: Path
) -> None:
    graph = exported[2]["@graph"]
    for node in graph:
        if "uco-types:hashValue" in node:
            node["uco-types:hashValue"]["@value"] = "not hex"  # ill-typed xsd:hexBinary
        if "case-investigation:exhibitNumber" in node:
            node["case-investigation:exhibitNumber"] = ["B-1", "B-2"]  # at most one exhibit number
    bundle = tmp_path / "broken.jsonld"
    bundle.write_text(json.dumps(exported[2]), encoding="utf-8")
    result = case_validate(bundle)
    assert result.returncode != 0
    assert "Conforms: False" in result.stdout
    assert "hashValue" in result.stdout
    assert "exhibitNumber" in result.stdout


def select(graph: Graph, query: str) -> list[tuple[Any, ...]]:
    """The rows of a SPARQL SELECT."""
    rows = []
    for row in graph.query(query):
        assert isinstance(row, ResultRow)
        rows.append(tuple(row))
    return rows


def load(bundle: dict[str, Any]) -> Graph:
    """Parse the export with rdflib, as a forensic tool would."""
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates: not ours to fix.
        warnings.filterwarnings("ignore", message="ConjunctiveGraph is deprecated", category=DeprecationWarning)
        return Graph().parse(data=json.dumps(bundle), format="json-ld")


def test_every_hash_of_every_item_is_on_its_file(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]],
) -> None:
    items, _, bundle = exported
    rows = select(
        load(bundle),
        """
        PREFIX core: <https://ontology.unifiedcyberontology.org/uco/core/>
        PREFIX observable: <https://ontology.unifiedcyberontology.org/uco/observable/>
        PREFIX types: <https://ontology.unifiedcyberontology.org/uco/types/>
        SELECT ?file ?method ?value ?size WHERE {
            ?file a observable:File ; core:hasFacet ?content .
            ?content a observable:ContentDataFacet ; observable:hash ?hash ; observable:sizeInBytes ?size .
            ?hash a types:Hash ; types:hashMethod ?method ; types:hashValue ?value .
        }
        """,
    )
    found = {(str(r[0]), str(r[1]), str(r[2]).lower(), int(r[3])) for r in rows}
    expected = {
        (f"urn:hanoinet:vn:file-{item.id}", name.upper(), value, item.size)
        for item in items
        for name, value in item.hashes.items()
    }
    assert found == expected
    assert {m for _, m, _, _ in found} == {"SHA256", "SHA1", "MD5"}


def test_exhibit_numbers_and_acquisitions_are_provenance_records(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]],
) -> None:
    items, _, bundle = exported
    rows = select(
        load(bundle),
        """
        PREFIX core: <https://ontology.unifiedcyberontology.org/uco/core/>
        PREFIX action: <https://ontology.unifiedcyberontology.org/uco/action/>
        PREFIX investigation: <https://ontology.caseontology.org/case/investigation/>
        PREFIX tool: <https://ontology.unifiedcyberontology.org/uco/tool/>
        SELECT ?exhibit ?file ?who ?tool ?start WHERE {
            ?record a investigation:ProvenanceRecord ; investigation:exhibitNumber ?exhibit ; core:object ?file .
            ?acq a investigation:InvestigativeAction ; core:name "acquire" ; action:result ?file, ?record ;
                 action:performer/core:name ?who ; action:instrument/core:name ?tool ; action:startTime ?start .
        }
        """,
    )
    found = {(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4].toPython()) for r in rows}
    assert found == {
        (i.described.exhibit, f"urn:hanoinet:vn:file-{i.id}", "Officer Trần Văn An", "dd 9.4", i.described.acquired_at)
        for i in items
    }


def test_every_custody_event_is_an_action_tied_to_the_ledger(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]],
) -> None:
    _, events, bundle = exported
    graph = load(bundle)
    actions = {}
    for event in events:
        iri = next(s for s in graph.subjects() if re.search(rf":custody-{event.seq}-[0-9a-f-]{{36}}$", str(s)))
        assert isinstance(iri, URIRef)
        actions[event.seq] = iri
        assert graph.value(iri, URIRef(UCO + "core/name")) == Literal(event.action.value)
        assert graph.value(graph.value(iri, URIRef(UCO + "action/performer")), URIRef(UCO + "core/name")) == Literal(
            event.actor
        )
        assert graph.value(iri, URIRef(UCO + "action/object")) == URIRef(f"urn:hanoinet:vn:file-{event.item_id}")
        descriptions = {str(d) for d in graph.objects(iri, URIRef(UCO + "core/description"))}
        assert event.reason in descriptions
        assert any(event.hash in d and event.prev_hash in d for d in descriptions)
    investigation = next(graph.subjects(predicate=URIRef(INVESTIGATION + "investigationForm")))
    assert set(actions.values()) <= set(graph.objects(investigation, URIRef(UCO + "core/object")))


def test_the_export_is_deterministic_and_its_iris_are_stable_urns(
    exported: tuple[list[EvidenceItem], list[CustodyEvent], dict[str, Any]],
) -> None:
    items, events, bundle = exported
    again = case_bundle(list(reversed(items)), list(reversed(events)), node=NODE, case_reference="LOTUS-2027/14")
    assert json.dumps(again) == json.dumps(bundle)
    iris = [node["@id"] for node in bundle["@graph"]]
    assert iris == sorted(iris)
    assert all(re.fullmatch(r"urn:hanoinet:vn:[A-Za-z0-9._-]+-[0-9a-f-]{36}", iri) for iri in iris), iris
    assert "http://example.org" not in json.dumps(bundle)


def test_events_of_items_not_exported_are_refused() -> None:
    items = [make_item(1, b"a"), make_item(2, b"b")]
    events = custody(items)
    with pytest.raises(ValueError, match="not exported"):
        case_bundle(items[:1], events, node=NODE, case_reference="LOTUS-2027/14")
