"""Loading rule packs: YAML files a legal reviewer edits, checked against a strict schema, turned into the domain.

A pack is law written as data, so a mistake in it must never load quietly: every field is typed strictly
(``"false"`` is not a bool), unknown keys are refused (a misspelt ``verifed`` would otherwise drop the flag), and
every error names the file, the line and the field, so the reviewer can fix the pack without reading Python.
Pydantic lives here, in the adapter; the domain receives only its own frozen dataclasses (``domain.rules``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hanoinet.platform.errors import CONFIGURATION, ErrorKind
from hanoinet.rules.domain import (
    Channel,
    Citation,
    ClockKind,
    ClockRule,
    ClockSource,
    ClockStart,
    DualCriminality,
    EntryIntoForceRule,
    Offence,
    Period,
    RefusalGround,
    RequestType,
    RequiredItem,
    Reservation,
    RulePack,
    Workflow,
)
from hanoinet.rules.files import builtin_pack_paths as builtin_pack_paths  # noqa: PLC0414 - re-exported

Loc = tuple[str | int, ...]
"""Where a value sits in a pack, e.g. ``("request_types", 3, "required_items", 0, "letter")``."""


class PackError(Exception):
    """A rule pack cannot be used: its YAML is broken or it breaks the schema. Nothing from it was loaded.

    ``line`` and ``reason`` describe the first problem in file order; ``problems`` lists all of them as
    ``(line, reason)`` so a reviewer can fix a pack in one pass.
    """

    error_kind: ClassVar[ErrorKind] = CONFIGURATION

    def __init__(
        self, path: str, line: int | None, reason: str, problems: tuple[tuple[int | None, str], ...] = ()
    ) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        self.problems = problems or ((line, reason),)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


# --- field types --------------------------------------------------------------------------------------------------

_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_PACK_KEY = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _snake_case(value: str) -> str:
    if not _SNAKE_CASE.fullmatch(value):
        raise ValueError(f"must be snake_case (lowercase letters, digits, single underscores), not {value!r}")
    return value


def _pack_key(value: str) -> str:
    if not _PACK_KEY.fullmatch(value):
        raise ValueError(f"must be lowercase words joined by hyphens, e.g. 'uncc-2024', not {value!r}")
    return value


def _letter(value: str) -> str:
    if len(value) != 1 or not ("a" <= value <= "z"):
        raise ValueError("must be a single lowercase letter")
    return value


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError(f"must be a positive whole number, not {value}")
    return value


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"must not be negative, not {value}")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Key = Annotated[str, AfterValidator(_snake_case)]
PackKey = Annotated[str, AfterValidator(_pack_key)]
Letter = Annotated[str, AfterValidator(_letter)]
Positive = Annotated[int, AfterValidator(_positive)]
NotNegative = Annotated[int, AfterValidator(_not_negative)]
Text = Annotated[str, AfterValidator(_text)]
# Enums arrive from YAML as strings; strict mode would demand enum instances, so only these fields are lax.
WorkflowField = Annotated[Workflow, Field(strict=False)]
DualCriminalityField = Annotated[DualCriminality, Field(strict=False)]
ClockKindField = Annotated[ClockKind, Field(strict=False)]
ClockStartField = Annotated[ClockStart, Field(strict=False)]
ClockSourceField = Annotated[ClockSource, Field(strict=False)]
ChannelField = Annotated[Channel, Field(strict=False)]


# --- schema ---------------------------------------------------------------------------------------------------------


class _Schema(BaseModel):
    """Strict, closed records: a reviewer's typo must be an error, never a silently ignored or coerced value."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CitationSchema(_Schema):
    """A citation given as its own record (entry-into-force rules): ``{article: 65, paragraph: 1}``."""

    article: Positive
    paragraph: Positive | None = None
    letter: Letter | None = None

    def to_domain(self) -> Citation:
        """Return the domain citation."""
        return Citation(self.article, self.paragraph, self.letter)


class _Cited(_Schema):
    """A rule whose citation is written inline (article, paragraph, letter) and which carries its own flag."""

    article: Positive
    paragraph: Positive | None = None
    letter: Letter | None = None
    verified: bool

    def citation(self) -> Citation:
        """Return the rule's citation."""
        return Citation(self.article, self.paragraph, self.letter)


class PeriodSchema(_Schema):
    """A legal period; at least one unit must be non-zero, since a zero period is always a slip."""

    days: NotNegative = 0
    hours: NotNegative = 0
    months: NotNegative = 0
    years: NotNegative = 0
    first_day_of_following_month: bool = False

    @model_validator(mode="after")
    def _not_zero(self) -> PeriodSchema:
        if not (self.days or self.hours or self.months or self.years):
            raise ValueError("must last at least one hour, day, month or year")
        return self

    def to_domain(self) -> Period:
        """Return the domain period."""
        return Period(self.days, self.hours, self.months, self.years, self.first_day_of_following_month)


class ItemSchema(_Cited):
    """One item a request must contain."""

    key: Key
    label: Text
    required: bool = True
    help: str = ""


class GroundSchema(_Cited):
    """One ground of refusal allowed for a request type."""

    key: Key
    label: Text
    note: str = ""


class NeverGroundSchema(_Cited):
    """A ground on which no request may ever be refused (bank secrecy ...), with the article that says so."""

    key: Key
    label: Text
    note: str = ""


class ReservationSchema(_Cited):
    """A reservation a Party may make, and the request types it gives a ground of refusal for."""

    key: Key
    label: Text
    ground_for: list[Key]
    note: str = ""


class DualCriminalitySchema(_Schema):
    """The dual-criminality rule of a request type; the citation is optional (some types have no rule at all)."""

    rule: DualCriminalityField
    article: Positive | None = None
    paragraph: Positive | None = None
    letter: Letter | None = None
    verified: bool
    minimum_penalty_years: Positive | None = None
    note: str = ""


class ClockSchema(_Schema):
    """A clock rule; policy clocks may cite nothing, convention clocks must cite their article."""

    kind: ClockKindField
    start: ClockStartField
    period: PeriodSchema
    source: ClockSourceField
    article: Positive | None = None
    paragraph: Positive | None = None
    letter: Letter | None = None
    verified: bool
    emergency_only: bool = False
    extension: PeriodSchema | None = None
    held_while_follow_up_pending: bool = False
    description: str = ""


class RequestTypeSchema(_Cited):
    """A request type with everything the domain needs to check, refuse and time it."""

    key: Key
    label: Text
    workflow: WorkflowField
    required_items: list[ItemSchema]
    refusal_grounds: list[GroundSchema]
    dual_criminality: DualCriminalitySchema
    clocks: list[ClockSchema] = Field(default_factory=list)
    emergency_allowed: bool = False
    emergency_always: bool = False
    convention_offences_only: bool = False
    follow_up_of: list[Key] = Field(default_factory=list)
    channel: ChannelField = Channel.CENTRAL_AUTHORITY
    notes: str = ""


class OffenceSchema(_Cited):
    """An offence the instrument establishes."""

    key: Key
    label: Text


class SeriousCrimeSchema(_Cited):
    """The "serious crime" threshold: a maximum penalty of at least ``min_years`` years."""

    min_years: Positive


class EntryIntoForceSchema(_Schema):
    """Entry into force, later Parties, denunciation and signature; mirrors ``EntryIntoForceRule``."""

    instruments_required: Positive
    general_period: PeriodSchema
    general_citation: CitationSchema
    later_party_period: PeriodSchema
    later_party_citation: CitationSchema
    denunciation_period: PeriodSchema
    denunciation_citation: CitationSchema
    reio_counted_in_addition: bool
    verified: bool
    signature_opens: date
    signature_closes: date | None
    signature_citation: CitationSchema


class PackSchema(_Schema):
    """A whole pack file."""

    key: PackKey
    title: Text
    short_title: Text
    version: Text
    entry_into_force: EntryIntoForceSchema
    serious_crime: SeriousCrimeSchema | None
    never_grounds: list[NeverGroundSchema]
    offences: list[OffenceSchema]
    request_types: list[RequestTypeSchema]
    reservations: list[ReservationSchema] = Field(default_factory=list)
    oral_confirmation: ClockSchema | None = None
    """How soon an urgent request made orally (by telephone) is confirmed in writing: one clock for every type of
    the instrument, running only for a request sent by telephone. Without it the instrument provides no such clock."""


# --- checks that span several fields ------------------------------------------------------------------------------

Problem = tuple[Loc, str]


def _duplicates(keys: Iterable[str], where: Loc, what: str) -> list[Problem]:
    """Report every key seen before in the same list, at the later occurrence (the one a reviewer just added)."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for index, key in enumerate(keys):
        if key in first:
            problems.append(((*where, index, "key"), f"duplicate {what} key {key!r} (also at index {first[key]})"))
        else:
            first[key] = index
    return problems


def _check_clocks(rtype: RequestTypeSchema, where: Loc) -> list[Problem]:
    """Clocks must fit the workflow: one preservation clock exactly where data are preserved, and so on."""
    problems: list[Problem] = []
    seen: dict[tuple[ClockKind, bool], int] = {}
    for index, clock in enumerate(rtype.clocks):
        at: Loc = (*where, "clocks", index)
        preserving = clock.kind is ClockKind.PRESERVATION
        if preserving and rtype.workflow is not Workflow.PRESERVATION:
            problems.append(
                ((*at, "kind"), f"a preservation clock needs workflow 'preservation', not {rtype.workflow}")
            )
        if preserving != (clock.start is ClockStart.PRESERVED):
            problems.append(((*at, "start"), "a preservation clock, and only it, starts when data are 'preserved'"))
        if clock.kind is ClockKind.WRITTEN_CONFIRMATION:
            problems.append(((*at, "kind"), "the written-confirmation clock is the instrument's: 'oral_confirmation'"))
        if clock.held_while_follow_up_pending and not preserving:
            problems.append(((*at, "held_while_follow_up_pending"), "only a preservation clock can be held"))
        if clock.extension is not None and not preserving:
            problems.append(((*at, "extension"), "only a preservation clock can be extended"))
        if clock.source is ClockSource.CONVENTION and clock.article is None:
            problems.append(((*at, "article"), "a clock whose source is the convention must cite its article"))
        if clock.article is None and (clock.paragraph is not None or clock.letter is not None):
            problems.append(((*at, "article"), "a paragraph or letter needs an article"))
        slot = (clock.kind, clock.emergency_only)
        if slot in seen:
            problems.append(
                (at, f"a second {clock.kind} clock with emergency_only {clock.emergency_only} (index {seen[slot]})")
            )
        seen.setdefault(slot, index)
    preservation_clocks = sum(c.kind is ClockKind.PRESERVATION for c in rtype.clocks)
    if rtype.workflow is Workflow.PRESERVATION and preservation_clocks != 1:
        problems.append(((*where, "clocks"), "a preservation request type needs exactly one preservation clock"))
    return problems


def _check_request_type(rtype: RequestTypeSchema, where: Loc, never: set[str], types: set[str]) -> list[Problem]:
    problems = _duplicates((i.key for i in rtype.required_items), (*where, "required_items"), "item")
    problems += _duplicates((g.key for g in rtype.refusal_grounds), (*where, "refusal_grounds"), "ground")
    for index, ground in enumerate(rtype.refusal_grounds):
        if ground.key in never:
            problems.append(
                (
                    (*where, "refusal_grounds", index, "key"),
                    f"{ground.key!r} is never a ground of refusal under this instrument (see never_grounds)",
                )
            )
    for index, other in enumerate(rtype.follow_up_of):
        if other == rtype.key:
            problems.append(((*where, "follow_up_of", index), "a request type cannot follow up itself"))
        elif other not in types:
            problems.append(((*where, "follow_up_of", index), f"no request type {other!r} in this pack"))
    dual = rtype.dual_criminality
    if dual.minimum_penalty_years is not None and dual.rule is DualCriminality.NOT_REQUIRED:
        problems.append(
            ((*where, "dual_criminality", "minimum_penalty_years"), "a minimum penalty needs dual criminality")
        )
    if dual.article is None and (dual.paragraph is not None or dual.letter is not None):
        problems.append(((*where, "dual_criminality", "article"), "a paragraph or letter needs an article"))
    return problems + _check_clocks(rtype, where)


def _check_pack(pack: PackSchema) -> list[Problem]:
    """Rules across fields that a per-field schema cannot express; each problem points at one value."""
    problems = _duplicates((g.key for g in pack.never_grounds), ("never_grounds",), "never-ground")
    problems += _duplicates((o.key for o in pack.offences), ("offences",), "offence")
    problems += _duplicates((t.key for t in pack.request_types), ("request_types",), "request type")
    never = {g.key for g in pack.never_grounds}
    types = {t.key for t in pack.request_types}
    for index, rtype in enumerate(pack.request_types):
        problems += _check_request_type(rtype, ("request_types", index), never, types)
    problems += _check_oral_confirmation(pack.oral_confirmation)
    problems += _duplicates((r.key for r in pack.reservations), ("reservations",), "reservation")
    for index, reservation in enumerate(pack.reservations):
        for at, key in enumerate(reservation.ground_for):
            concerned = next((t for t in pack.request_types if t.key == key), None)
            where: Loc = ("reservations", index, "ground_for", at)
            if concerned is None:
                problems.append((where, f"no request type {key!r} in this pack"))
            elif any(g.key == reservation.key for g in concerned.refusal_grounds):
                problems.append((where, f"{key!r} already has a ground {reservation.key!r} for every State"))
    eif = pack.entry_into_force
    if eif.signature_closes is not None and eif.signature_closes < eif.signature_opens:
        problems.append((("entry_into_force", "signature_closes"), "is before signature_opens"))
    return problems


# --- conversion to the domain ---------------------------------------------------------------------------------------


def _optional_citation(article: int | None, paragraph: int | None, letter: str | None) -> Citation | None:
    return None if article is None else Citation(article, paragraph, letter)


def _clock(clock: ClockSchema) -> ClockRule:
    return ClockRule(
        kind=clock.kind,
        start=clock.start,
        period=clock.period.to_domain(),
        source=clock.source,
        citation=_optional_citation(clock.article, clock.paragraph, clock.letter),
        verified=clock.verified,
        emergency_only=clock.emergency_only,
        extension=clock.extension.to_domain() if clock.extension else None,
        held_while_follow_up_pending=clock.held_while_follow_up_pending,
        description=clock.description.strip(),
    )


def _check_oral_confirmation(clock: ClockSchema | None) -> list[Problem]:
    """The written-confirmation clock is the instrument's, starts when the oral request is made, and is kept
    out of each type's own list (where it would run for requests that were never oral)."""
    if clock is None:
        return []
    at: Loc = ("oral_confirmation",)
    problems: list[Problem] = []
    if clock.kind is not ClockKind.WRITTEN_CONFIRMATION:
        problems.append(((*at, "kind"), f"the oral-request clock is a 'written_confirmation' clock, not {clock.kind}"))
    if clock.start is not ClockStart.SENT:
        problems.append(((*at, "start"), "the written confirmation is counted from when the oral request was 'sent'"))
    if clock.emergency_only or clock.extension is not None or clock.held_while_follow_up_pending:
        problems.append((at, "a written-confirmation clock is neither emergency-only, extended nor held"))
    if clock.source is ClockSource.CONVENTION and clock.article is None:
        problems.append(((*at, "article"), "a clock whose source is the convention must cite its article"))
    return problems


def _request_type(rtype: RequestTypeSchema, oral: ClockSchema | None) -> RequestType:
    dual = rtype.dual_criminality
    return RequestType(
        key=rtype.key,
        label=rtype.label,
        citation=rtype.citation(),
        workflow=rtype.workflow,
        verified=rtype.verified,
        required_items=tuple(
            RequiredItem(i.key, i.label, i.citation(), i.verified, i.required, i.help.strip())
            for i in rtype.required_items
        ),
        refusal_grounds=tuple(
            RefusalGround(g.key, g.label, g.citation(), g.verified, g.note.strip()) for g in rtype.refusal_grounds
        ),
        dual_criminality=dual.rule,
        dual_criminality_citation=_optional_citation(dual.article, dual.paragraph, dual.letter),
        clocks=tuple(_clock(c) for c in (*rtype.clocks, *([oral] if oral else []))),
        minimum_penalty_years=dual.minimum_penalty_years,
        emergency_allowed=rtype.emergency_allowed or rtype.emergency_always,
        emergency_always=rtype.emergency_always,
        convention_offences_only=rtype.convention_offences_only,
        follow_up_of=tuple(rtype.follow_up_of),
        notes=rtype.notes.strip(),
        dual_criminality_note=dual.note.strip(),
        dual_criminality_verified=dual.verified,
        channel=rtype.channel,
    )


def _to_domain(pack: PackSchema) -> RulePack:
    eif = pack.entry_into_force
    serious = pack.serious_crime
    return RulePack(
        key=pack.key,
        title=pack.title,
        short_title=pack.short_title,
        version=pack.version,
        entry_into_force=EntryIntoForceRule(
            instruments_required=eif.instruments_required,
            general_period=eif.general_period.to_domain(),
            general_citation=eif.general_citation.to_domain(),
            later_party_period=eif.later_party_period.to_domain(),
            later_party_citation=eif.later_party_citation.to_domain(),
            denunciation_period=eif.denunciation_period.to_domain(),
            denunciation_citation=eif.denunciation_citation.to_domain(),
            reio_counted_in_addition=eif.reio_counted_in_addition,
            verified=eif.verified,
            signature_opens=eif.signature_opens,
            signature_closes=eif.signature_closes,
            signature_citation=eif.signature_citation.to_domain(),
        ),
        request_types=tuple(_request_type(t, pack.oral_confirmation) for t in pack.request_types),
        offences=tuple(Offence(o.key, o.label, o.citation(), o.verified) for o in pack.offences),
        serious_crime_min_years=serious.min_years if serious else None,
        serious_crime_citation=serious.citation() if serious else None,
        never_grounds=tuple(g.key for g in pack.never_grounds),
        reservations=tuple(
            Reservation(r.key, r.label, r.citation(), r.verified, tuple(r.ground_for), r.note.strip())
            for r in pack.reservations
        ),
    )


# --- YAML with line numbers -----------------------------------------------------------------------------------------


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""LibYAML's parser where PyYAML was built with it (Debian's and the wheels' are): the same safe constructor and the
same marks, ten times faster; every command loads both packs before doing anything, so it counts."""


class _PackLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader, except that an impossible date (2026-02-30) is a located YAML error, not a bare ValueError."""

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        """Construct a date, reporting an impossible one at its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({error})", node.start_mark
            ) from error


_PackLoader.add_constructor("tag:yaml.org,2002:timestamp", _PackLoader.construct_yaml_timestamp)


def _map_lines(node: Node, loc: Loc, lines: dict[Loc, int], problems: list[tuple[int, str]], active: set[int]) -> None:
    """Record the 1-based line of every key and list item; report keys written twice in one mapping.

    A mapping entry is located at its key (where a reviewer reads the field name); a list item at its dash. An
    alias shares its anchor's node, so an error in a repeated entry points at the one definition to correct.
    Duplicate keys must be caught here: the YAML constructor silently keeps the last one.
    """
    if id(node) in active:
        problems.append((node.start_mark.line + 1, f"{_dotted(loc)}: refers to itself through a YAML alias"))
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            child = (*loc, key)
            line = key_node.start_mark.line + 1
            if key in first_line:
                problems.append((line, f"{_dotted(child)}: is written twice (first on line {first_line[key]})"))
                continue
            first_line[key] = line
            lines[child] = line
            _map_lines(value_node, child, lines, problems, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _map_lines(item, (*loc, index), lines, problems, active)
    active.discard(id(node))


def _parse(text: str, name: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML text into plain data and a map from locations to lines; raise PackError if it is not YAML."""
    loader = _PackLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PackError(name, None, "the file is empty")
        lines: dict[Loc, int] = {(): root.start_mark.line + 1}
        problems: list[tuple[int, str]] = []
        _map_lines(root, (), lines, problems, set())
        _raise_first(name, problems)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = "invalid YAML: " + ", ".join(p for p in (error.context, error.problem) if p)
        raise PackError(name, mark.line + 1 if mark else None, reason) from error
    except yaml.YAMLError as error:
        raise PackError(name, None, f"invalid YAML: {error}") from error
    finally:
        loader.dispose()
    return data, lines


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """Return the line of ``loc``, or of its nearest enclosing value (a missing field is reported at its record)."""
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def _dotted(loc: Loc) -> str:
    """Write a location as a reviewer would: ``request_types[3].required_items[0].letter``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "pack"


def _describe(error: ErrorDetails) -> str:
    """Turn a pydantic error into a reviewer's sentence (no pydantic jargon such as 'Value error,')."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of a rule pack here (misspelt or misplaced?)"
    if kind == "value_error" and "ctx" in error:
        return str(error["ctx"].get("error", error["msg"]))
    message = error["msg"]
    return message[:1].lower() + message[1:]


# --- public API -----------------------------------------------------------------------------------------------------


def load_pack(path: Path) -> RulePack:
    """Load and validate one pack file; raise PackError (file, line, field, reason) if anything is wrong."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PackError(name, None, f"cannot read the pack: {error}") from error
    data, lines = _parse(text, name)
    try:
        schema = PackSchema.model_validate(data)
    except ValidationError as error:
        located = [
            (_line(lines, error_loc := tuple(e["loc"])), f"{_dotted(error_loc)}: {_describe(e)}")
            for e in error.errors()
        ]
        _raise_first(name, located)
    _raise_first(name, [(_line(lines, loc), f"{_dotted(loc)}: {reason}") for loc, reason in _check_pack(schema)])
    return _to_domain(schema)


def _raise_first(name: str, located: Sequence[tuple[int | None, str]]) -> None:
    """Raise a PackError for the earliest problem in the file, carrying all of them; do nothing if there are none."""
    if not located:
        return
    ordered = sorted(located, key=lambda problem: problem[0] or 0)  # stable: same-line problems keep schema order
    line, reason = ordered[0]
    raise PackError(name, line, reason, tuple(ordered))


def load_packs(paths: Iterable[Path]) -> dict[str, RulePack]:
    """Load several packs keyed by pack key; two files declaring the same key is a PackError on the second."""
    packs: dict[str, RulePack] = {}
    origin: dict[str, Path] = {}
    for path in paths:
        pack = load_pack(path)
        if pack.key in packs:
            _, lines = _parse(path.read_text(encoding="utf-8"), str(path))
            raise PackError(
                str(path), _line(lines, ("key",)), f"key: pack {pack.key!r} is already loaded from {origin[pack.key]}"
            )
        packs[pack.key] = pack
        origin[pack.key] = path
    return packs


@functools.cache
def _builtin_packs() -> tuple[tuple[str, RulePack], ...]:
    return tuple(load_packs(builtin_pack_paths()).items())


def load_builtin_packs() -> dict[str, RulePack]:
    """Return the shipped packs by key; parsed once per process, a fresh dict each call so callers may change it."""
    return dict(_builtin_packs())
