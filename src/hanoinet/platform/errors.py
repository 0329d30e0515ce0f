"""Domain errors: each carries a precise message, citing the rule where a rule is the reason.

Entry points map them to exit codes and HTTP statuses (422 invalid, 409 conflict, 404 unknown); the domain never
knows about either.
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with user input: the field it concerns, what is wrong, and the rule that says so."""

    field: str
    message: str
    citation: str | None = None

    def __str__(self) -> str:
        return f"{self.citation}: {self.message}" if self.citation else f"{self.field}: {self.message}"


class ValidationFailed(DomainError):  # noqa: N818 - reads as a domain event: "validation failed"
    """Input breaks one or more rules; nothing was changed."""

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


class IllegalTransition(DomainError):  # noqa: N818 - the name states the rule that was broken
    """The action is not allowed in the request's current state."""


class NoLegalBasis(DomainError):  # noqa: N818 - the name states the rule that was broken
    """The chosen instrument does not bind both States on the date of sending."""


class NotFound(DomainError):  # noqa: N818 - mirrors HTTP's 404 on purpose
    """No object with that identifier exists."""


class Conflict(DomainError):  # noqa: N818 - mirrors HTTP's 409 on purpose
    """The object changed under us, or already exists; retry with fresh data."""
