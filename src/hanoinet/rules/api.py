"""Rule packs over the API: which instruments this node knows, and each one whole with its articles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from hanoinet.platform.api import problems
from hanoinet.platform.errors import NotFound
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.rules import present as rules_present
from hanoinet.rules.schemas import PackOut, PackSummaryOut

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def router(node: Node) -> APIRouter:
    """The rule-pack routes (read-only: packs change with the software or the data directory, not over HTTP)."""
    api = APIRouter(prefix="/api/v1", route_class=SecureRoute, tags=["rule packs"])

    @api.get("/packs", response_model=list[PackSummaryOut], **secured(Permission.TREATY_READ))
    def list_packs() -> list[dict[str, Any]]:
        """The instruments this node knows."""
        return [rules_present.pack_summary(p) for p in node.packs.values()]

    @api.get("/packs/{key}", response_model=PackOut, responses=problems(404), **secured(Permission.TREATY_READ))
    def get_pack(key: str) -> dict[str, Any]:
        """A whole rule pack: request types, required items, refusal grounds, clocks, each with its article."""
        if key not in node.packs:
            raise NotFound(f"no rule pack {key!r}")
        return rules_present.pack(node.packs[key])

    return api
