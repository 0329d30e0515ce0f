"""Reading deposit records (signatures, ratifications ... denunciations) from CSV files.

Operators copy the status of a treaty from the UN Treaty Collection into a three-column file
(``state,action,date``). This module only turns text into rows with their physical line numbers; whether a row
makes legal sense is decided by ``hanoinet.treaty.domain.check_deposits``, which cites the articles.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import ClassVar

from hanoinet.platform.errors import INVALID_FILE, ErrorKind
from hanoinet.treaty.domain import DepositRow

COLUMNS = ("state", "action", "date")
"""The columns a deposit file must have, in any order."""


class CsvFormatError(ValueError):
    """The file is not a deposit table at all (header, column count, encoding); no row can be trusted."""

    error_kind: ClassVar[ErrorKind] = INVALID_FILE

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def read_deposit_rows(path: Path) -> list[DepositRow]:
    """Read a deposit CSV file (UTF-8, optional BOM); raise CsvFormatError if it is not one."""
    return decode_deposit_rows(path.read_bytes(), str(path))


def decode_deposit_rows(data: bytes, name: str) -> list[DepositRow]:
    """Decode uploaded bytes as UTF-8 (optional BOM) and parse them; bad encoding is reported by line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFormatError(name, line, "the file is not UTF-8 text") from exc
    return parse_deposit_rows(text, name)


def parse_deposit_rows(text: str, name: str) -> list[DepositRow]:
    """Parse CSV text whose header is ``state,action,date`` (any order); ``name`` is used in error messages.

    Line numbers are physical lines of the file (the header is line 1), so an operator can find each row an
    error refers to. Blank lines are skipped. State codes are upper-cased and actions lower-cased; all other
    checks are the domain's.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header: dict[str, int] | None = None
    rows: list[DepositRow] = []
    last_line = 0
    try:
        for record in reader:
            line = last_line + 1
            last_line = reader.line_num
            fields = [value.strip() for value in record]
            if not any(fields):
                continue
            if header is None:
                header = _header(fields, name, line)
                continue
            if len(fields) != len(COLUMNS):
                raise CsvFormatError(
                    name,
                    line,
                    f"expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), found {len(fields)}",
                )
            rows.append(
                DepositRow(
                    line=line,
                    party=fields[header["state"]].upper(),
                    action=fields[header["action"]].lower(),
                    on=fields[header["date"]],
                )
            )
    except csv.Error as exc:
        raise CsvFormatError(name, reader.line_num, f"malformed CSV: {exc}") from exc
    if header is None:
        raise CsvFormatError(name, 1, f"empty file: expected the header {','.join(COLUMNS)}")
    return rows


def _header(fields: list[str], name: str, line: int) -> dict[str, int]:
    """Map each column name to its position; the header must name exactly the three columns."""
    names = [f.lower() for f in fields]
    if sorted(names) != sorted(COLUMNS):
        raise CsvFormatError(
            name,
            line,
            f"the header must be exactly the columns {','.join(COLUMNS)} (in any order), found {','.join(fields)}",
        )
    return {column: names.index(column) for column in COLUMNS}
