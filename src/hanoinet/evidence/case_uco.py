"""Evidence items and their chain of custody as CASE 1.5 / UCO 1.5 JSON-LD, for courts and forensic tools.

CASE (Cyber-investigation Analysis Standard Expression) is the format forensic tools exchange provenance in; a
court's examiner can load this graph into their own tools and check it with ``case_validate`` (case-utils 0.18,
which bundles CASE 1.5.0). The classes and properties used here are the ones that version defines:

- each item is an ``observable:File`` with a ``FileFacet`` (file name, size) and a ``ContentDataFacet`` whose
  ``types:Hash`` entries carry every hash the vault computed;
- the acquisition is a ``case-investigation:InvestigativeAction`` performed by an ``identity:Person`` with a
  ``tool:Tool`` as instrument, whose results are the File and a ``ProvenanceRecord`` carrying the exhibit number;
- every custody event is an InvestigativeAction too (name = the action, performer = the actor, object = the File),
  whose descriptions record the ledger position and hashes, so that the graph can be matched event by event against
  the signed custody ledger;
- a ``case-investigation:Investigation`` for the case groups the actions, and a ``core:Bundle`` encloses it all.

Choices made so that the graph conforms to CASE 1.5 with no allowances (``case_validate`` without ``-w``/``--allow-
info``): hash methods are plain ``xsd:string`` values of the HashNameVocab ("SHA256"), because since UCO 1.4 a
vocabulary-typed literal draws a warning; nothing is a blank node (UCO forbids it); and every IRI ends in a UUID
(UCO suggests it, at severity Info, which still fails conformance). IRIs live in a ``urn:hanoinet:<state>:``
namespace; item ids are UUIDs already, and other keys get a version-5 UUID derived from the node's public key and
the key (ledger sequence number, person's name), so exporting the same items twice gives the same IRIs and graphs
of different nodes can be merged without collisions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hanoinet.evidence.domain import CustodyAction, CustodyEvent, EvidenceItem
from hanoinet.platform.canonical import canonical, utc_iso

CASE_VERSION = "1.5.0"
"""The CASE release whose terms this module uses (the newest bundled with case-utils 0.18)."""

CONTEXT: dict[str, str] = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

INHERENT = frozenset({"uco-observable:ContentDataFacet", "uco-observable:FileFacet", "uco-types:Hash"})
"""Types that characterise another object rather than being one (UcoInherentCharacterizationThing): a Bundle
may enclose only UcoObjects, so these are reached through their File."""

HASH_METHODS = {"sha256": "SHA256", "sha1": "SHA1", "md5": "MD5"}
"""The vault's hash names and their spelling in UCO's HashNameVocab."""

_UUID_AT_END = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-5][0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class NodeInfo:
    """The exporting node as a court sees it: its name, its State, and the key its signatures verify with."""

    name: str
    state: str
    public_key_hex: str


def namespace(node: NodeInfo) -> str:
    """The IRI namespace of this node's objects, e.g. ``urn:hanoinet:vn:``: one per State, stable across exports."""
    state = re.sub(r"[^a-z0-9-]+", "-", node.state.lower()).strip("-") or "node"
    return f"urn:hanoinet:{state}:"


class _Graph:
    """Nodes of the graph by IRI, so that one person or tool named twice is one node."""

    def __init__(self, node: NodeInfo) -> None:
        self.prefix = namespace(node)
        self.node_key = node.public_key_hex
        self.nodes: dict[str, dict[str, Any]] = {}

    def iri(self, kind: str, key: str) -> str:
        """A stable IRI ending in a UUID: the key itself if it is a UUID, else a readable slug and a UUID-5 of it.

        The UUID-5 covers the node's public key (its identity in the federation), because ledger numbers and
        people's names are only unique within one node, and one State may run several nodes.
        """
        if len(key) == 36 and _UUID_AT_END.fullmatch(key):
            return f"{self.prefix}{kind}-{key.lower()}"
        derived = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.prefix}{self.node_key}:{kind}:{key}")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", key).strip("-.")[:40]
        return f"{self.prefix}{kind}-{slug}-{derived}" if slug else f"{self.prefix}{kind}-{derived}"

    def add(self, iri: str, types: Sequence[str], props: dict[str, Any]) -> str:
        """Add (or merge into) the node ``iri``; properties whose value is None or empty are left out."""
        node = self.nodes.setdefault(iri, {"@id": iri, "@type": []})
        node["@type"] = sorted({*node["@type"], *types})
        node.update({key: value for key, value in props.items() if value not in (None, "", [])})
        return iri

    def identity(self, name: str, kind: str = "uco-identity:Identity") -> str:
        """The identity of a person or service account: one node per name, whatever role it appears in."""
        return self.add(self.iri("identity", name), [kind], {"uco-core:name": name})

    def to_jsonld(self, bundle_iri: str, description: str) -> dict[str, Any]:
        """The whole graph, with a Bundle enclosing every node; nodes, keys and multiple values sorted."""
        members = sorted(iri for iri, node in self.nodes.items() if not INHERENT.intersection(node["@type"]))
        self.add(
            bundle_iri,
            ["uco-core:Bundle"],
            {"uco-core:description": description, "uco-core:object": [ref(i) for i in members]},
        )
        graph = [{key: _sorted(value) for key, value in sorted(self.nodes[iri].items())} for iri in sorted(self.nodes)]
        return {"@context": dict(sorted({**CONTEXT, "kb": self.prefix}.items())), "@graph": graph}


def _sorted(value: Any) -> Any:
    """Several values of one property are a set in RDF: sort them so that the output is deterministic."""
    if isinstance(value, list):
        return sorted(value, key=canonical)
    return value


def ref(iri: str) -> dict[str, str]:
    """A JSON-LD reference to another node."""
    return {"@id": iri}


def typed(value: str, datatype: str) -> dict[str, str]:
    """A typed literal, e.g. ``typed("2027-03-01T09:00:00+00:00", "xsd:dateTime")``."""
    return {"@type": datatype, "@value": value}


def case_bundle(
    items: Sequence[EvidenceItem],
    events: Sequence[CustodyEvent],
    *,
    node: NodeInfo,
    case_reference: str,
) -> dict[str, Any]:
    """Return the CASE/UCO JSON-LD graph of ``items`` and their custody ``events``.

    The same input gives the same graph with the same IRIs (and the same bytes once serialised with sorted keys),
    so an export can be repeated and compared. Raises ValueError if an event names an item that is not exported:
    its action would point at nothing, and a graph must not describe the custody of an exhibit it does not hold.
    """
    g = _Graph(node)
    by_id = {item.id: item for item in items}
    unknown = sorted({e.item_id for e in events if e.item_id not in by_id})
    if unknown:
        raise ValueError(f"custody events name items that are not exported: {', '.join(unknown)}")
    organisation = g.add(
        g.iri("organization", node.name),
        ["uco-identity:Organization"],
        {
            "uco-core:name": node.name,
            "uco-core:description": f"hanoinet node of {node.state}; Ed25519 public key {node.public_key_hex}",
        },
    )
    actions: list[str] = []
    files: dict[str, str] = {}
    acquisitions: dict[str, str] = {}
    for item in sorted(items, key=lambda i: i.id):
        files[item.id], acquisitions[item.id] = _item(g, item)
        actions.append(acquisitions[item.id])
    for event in sorted(events, key=lambda e: e.seq):
        actions.append(_custody_action(g, event, files[event.item_id], acquisitions[event.item_id]))
    g.add(
        g.iri("investigation", case_reference),
        ["case-investigation:Investigation"],
        {
            "uco-core:name": case_reference,
            "case-investigation:investigationForm": "case",
            "uco-core:createdBy": ref(organisation),
            "uco-core:object": [ref(a) for a in actions],
        },
    )
    return g.to_jsonld(
        g.iri("bundle", case_reference),
        f"Evidence and chain of custody for {case_reference}, exported by {node.name} ({node.state})",
    )


def _item(g: _Graph, item: EvidenceItem) -> tuple[str, str]:
    """Add an item's File, facets, hashes, provenance record and acquisition; return the File's and action's IRIs."""
    d = item.described
    hashes = [
        ref(
            g.add(
                g.iri(f"hash-{name}", item.id),
                ["uco-types:Hash"],
                {
                    "uco-types:hashMethod": HASH_METHODS.get(name, name.upper()),
                    "uco-types:hashValue": typed(value.lower(), "xsd:hexBinary"),
                },
            )
        )
        for name, value in sorted(item.hashes.items())
    ]
    file_facet = g.add(
        g.iri("file-facet", item.id),
        ["uco-observable:FileFacet"],
        {"uco-observable:fileName": d.file_name, "uco-observable:sizeInBytes": item.size},
    )
    content_facet = g.add(
        g.iri("content-facet", item.id),
        ["uco-observable:ContentDataFacet"],
        {"uco-observable:sizeInBytes": item.size, "uco-observable:hash": hashes},
    )
    descriptions = [d.description] if d.description else []
    if item.disposed_at is not None:
        descriptions.append(f"content disposed of at {utc_iso(item.disposed_at)}; its record and hashes are kept")
    file_iri = g.add(
        g.iri("file", item.id),
        ["uco-observable:File"],
        {
            "uco-core:name": f"exhibit {d.exhibit}",
            "uco-core:description": descriptions,
            "uco-core:hasFacet": [ref(file_facet), ref(content_facet)],
        },
    )
    record = g.add(
        g.iri("provenance-record", item.id),
        ["case-investigation:ProvenanceRecord"],
        {
            "case-investigation:exhibitNumber": d.exhibit,
            "uco-core:description": f"case {d.case_id}; source: {d.source}; hanoinet item {item.id}",
            "uco-core:object": [ref(file_iri)],
        },
    )
    tools = []
    if d.acquisition_tool:
        tools.append(
            ref(g.add(g.iri("tool", d.acquisition_tool), ["uco-tool:Tool"], {"uco-core:name": d.acquisition_tool}))
        )
    acquired = typed(utc_iso(d.acquired_at), "xsd:dateTime")
    acquisition = g.add(
        g.iri("acquisition", item.id),
        ["case-investigation:InvestigativeAction"],
        {
            "uco-core:name": CustodyAction.ACQUIRE.value,
            "uco-core:description": f"{d.acquisition_method} of {d.source}",
            "uco-action:startTime": acquired,
            "uco-action:endTime": acquired,
            "uco-action:performer": ref(g.identity(d.acquired_by, "uco-identity:Person")),
            "uco-action:instrument": tools,
            "uco-action:result": [ref(file_iri), ref(record)],
        },
    )
    return file_iri, acquisition


def _custody_action(g: _Graph, event: CustodyEvent, file_iri: str, acquisition: str) -> str:
    """Add one custody event as an InvestigativeAction whose descriptions tie it to the signed ledger.

    UCO has no property for "this action's ledger entry hashes to X", so the ledger position, the event's hash
    and the hash it chains to are stated in a description, where a reader (or a query) finds them next to the
    reason; the ingest event is linked to the acquisition it records with ``wasInformedBy``.
    """
    descriptions = [
        event.reason,
        f"custody ledger event {event.seq}: hash {event.hash}, previous event hash {event.prev_hash}",
    ]
    if event.details:
        descriptions.append("details: " + canonical(event.details).decode())
    return g.add(
        g.iri("custody", str(event.seq)),
        ["case-investigation:InvestigativeAction"],
        {
            "uco-core:name": event.action.value,
            "uco-core:description": [d for d in descriptions if d],
            "uco-action:startTime": typed(utc_iso(event.at), "xsd:dateTime"),
            "uco-action:performer": ref(g.identity(event.actor)),
            "uco-action:object": [ref(file_iri)],
            "case-investigation:wasInformedBy": ref(acquisition) if event.action is CustodyAction.ACQUIRE else None,
        },
    )
