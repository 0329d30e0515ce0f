"""Cases over the API: a case groups the requests of one investigation under a national reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from hanoinet.cases import present as cases_present
from hanoinet.cases import service as case_services
from hanoinet.cases.domain import MAX_QUALIFICATION, MAX_SUMMARY
from hanoinet.cases.schemas import CaseOut
from hanoinet.platform.api import WHOLE, Strict, problems
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import SecureRoute, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node


class CaseCreate(Strict):
    """A new case."""

    reference: str = Field(max_length=64)
    offence: str = Field(max_length=64, description="Offence category key, e.g. illegal_access")
    max_penalty_years: Annotated[int, Field(ge=0, le=100), WHOLE] | None = None
    summary: str = Field(max_length=MAX_SUMMARY)
    legal_qualification: str = Field(default="", max_length=MAX_QUALIFICATION)


def router(node: Node) -> APIRouter:
    """The case routes: casework permissions, every call audited."""
    api = APIRouter(prefix="/api/v1/cases", route_class=SecureRoute, tags=["cases"])

    @api.post(
        "",
        status_code=201,
        response_model=CaseOut,
        responses=problems(409),
        **secured(Permission.REQUESTS_WRITE, audit="case:create"),
    )
    def create_case(body: CaseCreate) -> dict[str, Any]:
        """Open a case."""
        return cases_present.case(case_services.open_case(node, **body.model_dump()))

    @api.get("", response_model=list[CaseOut], **secured(Permission.REQUESTS_READ, audit="case:list"))
    def list_cases(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50, offset: OffsetQuery = 0
    ) -> list[dict[str, Any]]:
        """Cases, newest first."""
        return [cases_present.case(c) for c in case_services.list_cases(node, limit=limit, offset=offset)]

    @api.get(
        "/{case_id}",
        response_model=CaseOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_READ, audit="case:view"),
    )
    def get_case(case_id: str) -> dict[str, Any]:
        """A case by id or reference."""
        return cases_present.case(case_services.get_case(node, case_id))

    return api
