"""Use cases for cases: open one, read one, list them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hanoinet.audit import service as audit
from hanoinet.cases.domain import Case, check_case
from hanoinet.platform.errors import Conflict, NotFound
from hanoinet.platform.ids import new_id

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def open_case(
    node: Node,
    *,
    reference: str,
    offence: str,
    max_penalty_years: int | None,
    summary: str,
    legal_qualification: str = "",
) -> Case:
    """Record a new case; its reference must be unused on this node."""
    check_case(
        reference=reference,
        offence=offence,
        max_penalty_years=max_penalty_years,
        summary=summary,
        packs=dict(node.packs),
        legal_qualification=legal_qualification,
    )
    with node.uow() as uow:
        if uow.cases.by_reference(reference) is not None:
            raise Conflict(f"a case with reference {reference!r} already exists")
        case = Case(
            id=new_id(),
            reference=reference,
            offence=offence,
            max_penalty_years=max_penalty_years,
            summary=summary.strip(),
            legal_qualification=legal_qualification.strip(),
            created_at=node.clock.now(),
        )
        uow.cases.add(case)
        audit.attach(uow, case.id)
        uow.commit()
    return case


def get_case(node: Node, case_id_or_reference: str) -> Case:
    """Return a case by id or reference; raise NotFound if there is none."""
    with node.uow() as uow:
        case = uow.cases.get(case_id_or_reference) or uow.cases.by_reference(case_id_or_reference)
    if case is None:
        raise NotFound(f"no case {case_id_or_reference!r}")
    return case


def list_cases(node: Node, *, limit: int = 50, offset: int = 0) -> Sequence[Case]:
    """Return cases, newest first."""
    with node.uow() as uow:
        return uow.cases.list(limit=limit, offset=offset)
