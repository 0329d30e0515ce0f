"""Reading a declarations file: what States declared under an instrument, copied from the depositary.

The file is YAML, one entry per declaration::

    declarations:
      - state: JPN
        instrument: uncc-2024
        made_on: 2026-05-01
        languages: [ja, en]
        reference: C.N.123.2026.TREATIES-XVIII.16
        reservations: [preservation_dual_criminality]   # keys of the pack's reservations; optional

This module only turns text into rows; whether a row makes sense is ``declarations.check_declarations``'s to say.
"""

from __future__ import annotations

from typing import Any

import yaml

from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.treaty.declarations import DeclarationRow

MAX_FILE = 1024 * 1024
"""A declarations file of every State in the world is a few hundred kilobytes; more is not one."""

FIELDS = frozenset({"state", "instrument", "made_on", "languages", "reference", "reservations"})


def parse_declarations(data: bytes | str, name: str) -> list[DeclarationRow]:
    """Rows of a declarations file; ValidationFailed (naming the file, the line or the entry) if it is not one."""
    if len(data) > MAX_FILE:
        raise ValidationFailed([Issue(name, f"is larger than {MAX_FILE:,} bytes: not a declarations file")])
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        doc: Any = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise ValidationFailed([Issue(name, "is not UTF-8 text")]) from None
    except ValueError as error:  # an impossible date (2026-02-30), which the YAML loader does not locate
        raise ValidationFailed([Issue(name, f"holds a value that is not a real date ({error})")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise ValidationFailed(
            [Issue(where, f"is not valid YAML: {getattr(error, 'problem', None) or error}")]
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("declarations"), list):
        raise ValidationFailed([Issue(name, "must be a mapping with a list 'declarations'")])
    rows: list[DeclarationRow] = []
    issues: list[Issue] = []
    for index, entry in enumerate(doc["declarations"]):
        where = f"declarations[{index}]"
        if not isinstance(entry, dict):
            issues.append(Issue(where, "must be a mapping of state, instrument, made_on, languages, reference"))
            continue
        unknown = sorted(str(k) for k in entry if k not in FIELDS)
        if unknown:
            issues.append(
                Issue(f"{where}.{unknown[0]}", f"is not a field of a declaration; fields: {', '.join(sorted(FIELDS))}")
            )
            continue
        rows.append(
            DeclarationRow(
                where,
                entry.get("instrument"),
                entry.get("state"),
                entry.get("made_on"),
                entry.get("languages"),
                entry.get("reference"),
                entry.get("reservations"),
            )
        )
    if issues:
        raise ValidationFailed(issues)
    return rows
