"""Documents as plain data (API and ``--json``) and as lines a person reads (the CLI)."""

from __future__ import annotations

from typing import Any

from hanoinet.documents.certificates import SigningCredentials, fingerprint
from hanoinet.documents.service import Verification


def credentials(c: SigningCredentials) -> dict[str, Any]:
    """The document-signing certificate, public parts only."""
    return {
        "subject": c.leaf.subject.rfc4514_string(),
        "issuer": c.leaf.issuer.rfc4514_string(),
        "sha256": fingerprint(c.leaf),
        "not_before": c.leaf.not_valid_before_utc.isoformat(),
        "not_after": c.leaf.not_valid_after_utc.isoformat(),
        "self_issued": c.self_issued,
        "key": type(c.key).__name__.removeprefix("_").replace("PrivateKey", ""),
        "chain": [fingerprint(x) for x in c.chain[1:]],
    }


def verification(v: Verification) -> dict[str, Any]:
    """What a check of a document found."""
    s = v.signature
    return {
        "ok": v.ok,
        "problems": list(v.problems),
        "signature": {
            "present": s.present,
            "intact": s.intact,
            "covers_whole_file": s.whole_file,
            "trusted": s.trusted,
            "signer": s.signer.subject.rfc4514_string() if s.signer else None,
            "signer_sha256": v.fingerprint,
            "signed_at": s.signed_at.isoformat() if s.signed_at else None,
            "timestamped_at": s.timestamped_at.isoformat() if s.timestamped_at else None,
        },
        "signer_node": v.signer_node,
        "signer_state": v.signer_state,
        "request": (v.data or {}).get("request"),
        "case": (v.data or {}).get("case"),
        "document": (v.data or {}).get("document"),
    }


def verification_lines(v: Verification) -> list[str]:
    """The check, in a few lines: the verdict first, then each fact and each problem."""
    s = v.signature
    request = (v.data or {}).get("request") or {}
    lines = ["verified: signature, signer and request data all hold" if v.ok else "NOT verified"]
    if s.signer is not None:
        lines.append(f"signer: {s.signer.subject.rfc4514_string()} (SHA-256 {v.fingerprint})")
    if v.signer_node:
        lines.append(f"issued by node {v.signer_node} ({v.signer_state or 'State unknown'})")
    if s.signed_at:
        lines.append(f"signed at: {s.signed_at.isoformat()}" + (" (timestamped)" if s.timestamped_at else ""))
    if request:
        states = f"{request.get('requesting_state')} → {request.get('requested_state')}"
        lines.append(
            f"request {request.get('id')}: {request.get('type')} under {request.get('instrument')}, {states}, "
            f"{len(request.get('items') or {})} items"
        )
    lines += [f"  problem: {p}" for p in v.problems]
    return lines
