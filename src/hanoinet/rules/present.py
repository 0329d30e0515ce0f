"""The JSON shapes of rule packs, their request types and citations."""

from __future__ import annotations

from typing import Any

from hanoinet.rules.domain import Citation, RequestType, RulePack


def citation(c: Citation | None) -> str | None:
    """An article reference as text."""
    return str(c) if c else None


def pack_summary(p: RulePack) -> dict[str, Any]:
    """A pack's identity and request types."""
    return {
        "key": p.key,
        "title": p.title,
        "short_title": p.short_title,
        "version": p.version,
        "request_types": [t.key for t in p.request_types],
    }


def request_type(t: RequestType) -> dict[str, Any]:
    """A request type with everything a composer needs: items, grounds, clocks, each with its article."""
    return {
        "key": t.key,
        "label": t.label,
        "article": str(t.citation),
        "workflow": t.workflow.value,
        "verified": t.verified,
        "emergency_allowed": t.emergency_allowed,
        "emergency_always": t.emergency_always,
        "convention_offences_only": t.convention_offences_only,
        "dual_criminality": t.dual_criminality.value,
        "dual_criminality_article": citation(t.dual_criminality_citation),
        "minimum_penalty_years": t.minimum_penalty_years,
        "follow_up_of": list(t.follow_up_of),
        "items": [
            {
                "key": i.key,
                "label": i.label,
                "article": str(i.citation),
                "required": i.required,
                "verified": i.verified,
                "help": i.help,
            }
            for i in t.required_items
        ],
        "refusal_grounds": [
            {"key": g.key, "label": g.label, "article": str(g.citation), "verified": g.verified}
            for g in t.refusal_grounds
        ],
        "clocks": [
            {
                "kind": c.kind.value,
                "starts": c.start.value,
                "period": str(c.period),
                "source": c.source.value,
                "article": citation(c.citation),
                "verified": c.verified,
                "emergency_only": c.emergency_only,
                "extension": str(c.extension) if c.extension else None,
                "held_while_follow_up_pending": c.held_while_follow_up_pending,
            }
            for c in t.clocks
        ],
        "notes": t.notes,
        "dual_criminality_note": t.dual_criminality_note,
    }


def pack(p: RulePack) -> dict[str, Any]:
    """A whole pack, for reviewers and composers."""
    eif = p.entry_into_force
    return {
        **pack_summary(p),
        "entry_into_force": {
            "instruments_required": eif.instruments_required,
            "general": f"{eif.general_period} after the last instrument required ({eif.general_citation})",
            "later_party": f"{eif.later_party_period} after its deposit ({eif.later_party_citation})",
            "denunciation": f"{eif.denunciation_period} after receipt ({eif.denunciation_citation})",
            "verified": eif.verified,
        },
        "offences": [{"key": o.key, "label": o.label, "article": str(o.citation)} for o in p.offences],
        "serious_crime_min_years": p.serious_crime_min_years,
        "never_grounds": list(p.never_grounds),
        "request_types": [request_type(t) for t in p.request_types],
    }
