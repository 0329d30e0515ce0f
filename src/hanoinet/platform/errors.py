"""Domain errors, and the one table that says what each kind of error means to a caller.

Each error carries a precise message, citing the rule where a rule is the reason. Each error class also names its
``ErrorKind`` (``error_kind``, inherited like any class attribute): the HTTP status the API answers, the exit code
the CLI ends with and the title both show. The entry points look the kind up with ``kind_of`` and never map
classes themselves, so an error cannot mean 409 to the API and "not found" to the CLI. The domain still knows
nothing of HTTP or exit codes beyond these numbers in one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """What an error means to a caller: ``status`` over HTTP, ``exit_code`` at the command line, and a ``title``
    (the API's ``title`` field; the CLI prints the message alone)."""

    name: str
    status: int
    exit_code: int
    title: str


INVALID = ErrorKind("invalid", 422, 2, "invalid input")
"""Input breaks a rule; nothing was changed."""
INVALID_FILE = ErrorKind("invalid_file", 422, 2, "invalid file")
"""A file given as input is not what it should be (a deposit table without its header)."""
BAD_REQUEST = ErrorKind("bad_request", 400, 2, "bad request")
"""The request itself cannot be read (a body that is not JSON, or nests too deeply)."""
TOO_LARGE = ErrorKind("too_large", 413, 2, "content too large")
"""A request's body is larger than its route takes (``platform.limits``): refused before it is read."""
REQUEST_TIMEOUT = ErrorKind("request_timeout", 408, 2, "request timeout")
"""A request's body did not arrive in time (``platform.limits``): the connection is closed."""
UNAUTHENTICATED = ErrorKind("unauthenticated", 401, 5, "unauthorized")
"""No valid credential: no API token or session, or not the transfer's token."""
FORBIDDEN = ErrorKind("forbidden", 403, 5, "forbidden")
"""The caller is known but may not do this (roles, handling conditions, a stale form)."""
NOT_FOUND = ErrorKind("not_found", 404, 4, "not found")
CONFLICT = ErrorKind("conflict", 409, 3, "conflict")
"""The object's state does not allow this, or it changed under us, or it exists already."""
ILLEGAL_TRANSITION = ErrorKind("illegal_transition", 409, 3, "illegal transition")
NO_LEGAL_BASIS = ErrorKind("no_legal_basis", 409, 3, "no legal basis")
DAMAGED = ErrorKind("damaged", 409, 6, "evidence damaged")
"""Stored evidence is damaged: the answer is a verify, not a retry."""
MISMATCH = ErrorKind("mismatch", 422, 6, "content does not match its manifest")
"""Received evidence is not what its manifest promised."""
REJECTED = ErrorKind("rejected", 422, 2, "rejected")
"""A transmission refused as a whole (the API shows its reason code as the title)."""
UNREACHABLE = ErrorKind("unreachable", 502, 1, "peer unreachable")
OFFLINE = ErrorKind("offline", 503, 1, "not on the network")
VAULT_UNAVAILABLE = ErrorKind("vault_unavailable", 507, 1, "vault unavailable")
CONFIGURATION = ErrorKind("configuration", 500, 1, "bad configuration")
"""The node's own files or settings are wrong (a broken pack, a key file, the schema, a setting)."""
INTERNAL = ErrorKind("internal", 500, 1, "internal error")
"""Anything that declares no kind: a fault of the node's code."""

KINDS: tuple[ErrorKind, ...] = (
    INVALID,
    INVALID_FILE,
    BAD_REQUEST,
    TOO_LARGE,
    REQUEST_TIMEOUT,
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    CONFLICT,
    ILLEGAL_TRANSITION,
    NO_LEGAL_BASIS,
    DAMAGED,
    MISMATCH,
    REJECTED,
    UNREACHABLE,
    OFFLINE,
    VAULT_UNAVAILABLE,
    CONFIGURATION,
    INTERNAL,
)
"""The whole table, for documentation and its test."""


def kind_of(exc: BaseException) -> ErrorKind:
    """The kind an error declares (its class's ``error_kind``, inherited), or ``INTERNAL`` if it declares none."""
    kind = getattr(exc, "error_kind", None)
    return kind if isinstance(kind, ErrorKind) else INTERNAL


def declares_kind(exc: BaseException) -> bool:
    """True if the error's class says what it means (an error raised on purpose, not a fault)."""
    return isinstance(getattr(exc, "error_kind", None), ErrorKind)


class DomainError(Exception):
    """Base of every error the domain raises on purpose; unless a subclass says otherwise, a conflict."""

    error_kind: ClassVar[ErrorKind] = CONFLICT


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for gettext_noop
    """Mark a message for extraction into the catalogue; it is translated where it is shown (a page), never where
    it is made: the domain speaks English to the API, the CLI and the logs."""
    return message


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with user input: the field it concerns, what is wrong, and the rule that says so.

    ``message`` is English, as the API and the CLI give it. An issue made with ``Issue.of`` also keeps the message's
    ``template`` (its catalogue entry, with ``%(name)s`` placeholders) and the values that fill it, so that a page
    shows it in the reader's language; two issues are equal when they say the same in English."""

    field: str
    message: str
    citation: str | None = None
    template: str = dataclass_field(default="", compare=False)
    params: tuple[tuple[str, str], ...] = dataclass_field(default=(), compare=False)

    @classmethod
    def of(cls, field: str, template: str, citation: str | None = None, **params: object) -> Issue:
        """An issue whose message is ``template`` (marked with ``N_``) filled with ``params``."""
        values = {key: str(value) for key, value in params.items()}
        return cls(field, template % values, citation, template, tuple(values.items()))

    def __str__(self) -> str:
        return f"{self.citation}: {self.message}" if self.citation else f"{self.field}: {self.message}"


class ValidationFailed(DomainError):  # noqa: N818 - reads as a domain event: "validation failed"
    """Input breaks one or more rules; nothing was changed."""

    error_kind: ClassVar[ErrorKind] = INVALID

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


class IllegalTransition(DomainError):  # noqa: N818 - the name states the rule that was broken
    """The action is not allowed in the request's current state."""

    error_kind: ClassVar[ErrorKind] = ILLEGAL_TRANSITION


class NoLegalBasis(DomainError):  # noqa: N818 - the name states the rule that was broken
    """The chosen instrument does not bind both States on the date of sending."""

    error_kind: ClassVar[ErrorKind] = NO_LEGAL_BASIS


class NotFound(DomainError):  # noqa: N818 - mirrors HTTP's 404 on purpose
    """No object with that identifier exists."""

    error_kind: ClassVar[ErrorKind] = NOT_FOUND


class Conflict(DomainError):  # noqa: N818 - mirrors HTTP's 409 on purpose
    """The object changed under us, or already exists; retry with fresh data."""
