"""What every service needs: a unit-of-work factory, the rule packs, the State catalogue and a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hanoinet.domain.errors import Issue, ValidationFailed
from hanoinet.domain.rules import RulePack
from hanoinet.domain.treaty import StateCatalog
from hanoinet.services.ports import Clock, Exporter, Signer, UnitOfWork, Vault


@dataclass(frozen=True)
class Node:
    """The wiring a service call runs with; built once by ``hanoinet.bootstrap``."""

    uow: Callable[[], UnitOfWork]
    packs: Mapping[str, RulePack]
    catalog: StateCatalog
    clock: Clock
    node_state: str | None = None
    vault: Vault | None = None
    signer: Signer | None = None
    exporter: Exporter | None = None
    name: str = "hanoinet node"

    def evidence_store(self) -> tuple[Vault, Signer]:
        """The vault and the signing key; a node built without them cannot handle evidence."""
        if self.vault is None or self.signer is None:
            raise RuntimeError("this node was built without an evidence vault")
        return self.vault, self.signer

    def pack(self, instrument: str, field: str = "instrument") -> RulePack:
        """Return the rule pack of an instrument; raise ValidationFailed naming the field if there is none."""
        pack = self.packs.get(instrument)
        if pack is None:
            known = ", ".join(sorted(self.packs))
            raise ValidationFailed([Issue(field, f"unknown instrument {instrument!r}; known: {known}")])
        return pack

    def check_state(self, code: str, field: str) -> Issue | None:
        """Return an issue if ``code`` is not a known State or organization, else None."""
        if self.catalog.is_known(code):
            return None
        return Issue(field, f"unknown State {code!r}: use an ISO 3166 alpha-3 code such as VNM")


def new_id() -> str:
    """Return a fresh identifier; random, so that nodes can create ids without coordinating."""
    return str(uuid.uuid4())
