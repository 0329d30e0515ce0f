"""The JSON shape of a case, shared by the API and the CLI's --json so the two never disagree."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hanoinet.cases.domain import Case
from hanoinet.platform.present import _iso


def case(c: Case) -> dict[str, Any]:
    """A case."""
    return {k: _iso(v) for k, v in asdict(c).items()}
