"""Deposit files from the UN Treaty Collection: parsing with physical line numbers, then checking every row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hanoinet.treaty.csv_import import CsvFormatError, decode_deposit_rows, parse_deposit_rows, read_deposit_rows
from hanoinet.treaty.domain import DepositAction, DepositEvent, DepositRow, Organization, StateCatalog, check_deposits
from tests.factories import UN_RULE

UN = "uncc-2024"
CATALOG = StateCatalog(
    states={"VNM": "Viet Nam", "CHL": "Chile", "NOR": "Norway", "FRA": "France", "PRT": "Portugal"},
    organizations={"EU": Organization("EU", "European Union", frozenset({"FRA", "PRT"}))},
)
TODAY = date(2027, 6, 1)


def write(tmp_path: Path, text: str, name: str = "deposits.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def check(rows: list[DepositRow], existing: list[DepositEvent] | None = None) -> dict[int, list[str]]:
    result = check_deposits(rows, existing or [], UN, UN_RULE, CATALOG, today=TODAY)
    found: dict[int, list[str]] = {}
    for error in result.errors:
        found.setdefault(error.line, []).append(error.reason)
    return found


def test_rows_carry_their_physical_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state,action,date\nVNM,signature,2025-10-25\n\n   \nVNM,ratification,2026-01-05\n",
    )
    assert read_deposit_rows(path) == [
        DepositRow(line=2, party="VNM", action="signature", on="2025-10-25"),
        DepositRow(line=5, party="VNM", action="ratification", on="2026-01-05"),
    ]


def test_header_order_whitespace_case_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    text = "\ufeff Date , STATE ,Action\r\n2025-10-25 , vnm , Signature\r\n2025-10-25,eu,SIGNATURE\r\n"
    rows = read_deposit_rows(write(tmp_path, text))
    assert rows == [
        DepositRow(line=2, party="VNM", action="signature", on="2025-10-25"),
        DepositRow(line=3, party="EU", action="signature", on="2025-10-25"),
    ]


def test_a_quoted_field_spanning_lines_does_not_shift_later_line_numbers() -> None:
    rows = parse_deposit_rows('state,action,date\n"VNM\n",signature,2025-10-25\nCHL,signature,2025-10-25\n', "x.csv")
    assert [r.line for r in rows] == [2, 4]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("state,action\nVNM,signature\n", 1, "header must be exactly the columns state,action,date"),
        ("state,action,date,note\nVNM,signature,2025-10-25,x\n", 1, "found state,action,date,note"),
        ("party,action,date\nVNM,signature,2025-10-25\n", 1, "header must be exactly"),
        ("state,state,date\n", 1, "header must be exactly"),
        ("state,action,date\nVNM,signature,2025-10-25\n\nVNM,ratification\n", 4, "expected 3 columns"),
        ("state,action,date\nVNM,signature,2025-10-25,\n", 2, "found 4"),
        ("", 1, "empty file"),
        ("\n\n", 1, "empty file"),
    ],
)
def test_a_file_that_is_not_a_deposit_table_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CsvFormatError) as caught:
        read_deposit_rows(path)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value) == f"{path}:{line}: {caught.value.reason}"


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "state,action,date\nCIV,signature,2025-10-25\nCôte,signature,2025-10-25\n", encoding="latin-1"
    )
    with pytest.raises(CsvFormatError, match=r":3: the file is not UTF-8 text"):
        read_deposit_rows(path)


def test_uploaded_bytes_are_decoded_like_files() -> None:
    rows = decode_deposit_rows(b"\xef\xbb\xbfstate,action,date\nVNM,signature,2025-10-25\n", "upload")
    assert rows == [DepositRow(line=2, party="VNM", action="signature", on="2025-10-25")]
    with pytest.raises(CsvFormatError, match=r"^upload:1: "):
        decode_deposit_rows(b"state,action\n", "upload")


def test_each_bad_row_of_a_file_is_reported_with_its_line_and_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state,action,date\n"
        "VNM,signature,2025-10-25\n"  # 2 fine
        "XYZ,signature,2025-10-25\n"  # 3 unknown State
        "CHL,ratified,2026-01-05\n"  # 4 unknown action
        "\n"
        "NOR,signature,2025-02-30\n"  # 6 impossible date
        "FRA,signature,2025/11/01\n"  # 7 malformed date
        "PRT,signature,2025-10-24\n"  # 8 before opening (Art 64)
        "CHL,ratification,2026-01-05\n"  # 9 no signature
        "VNM,denunciation,2026-03-01\n"  # 10 no instrument (Art 67)
        "EU,signature,2030-01-01\n",  # 11 in the future
    )
    found = check(read_deposit_rows(path))
    assert sorted(found) == [3, 4, 6, 7, 8, 9, 10, 11]
    assert "unknown State or organization 'XYZ'" in found[3][0]
    assert "unknown action 'ratified'" in found[4][0]
    assert "invalid date '2025-02-30'" in found[6][0]
    assert "invalid date '2025/11/01'" in found[7][0]
    assert "(Art 64)" in found[8][0]
    assert "without a prior signature" in found[9][0]
    assert "(Art 67)" in found[10][0]
    assert "in the future" in found[11][0]


def test_conflicting_rows_within_one_file_are_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state,action,date\n"
        "VNM,signature,2025-10-25\n"
        "VNM,signature,2025-11-02\n"
        "VNM,ratification,2026-01-05\n"
        "VNM,accession,2026-02-05\n",
    )
    found = check(read_deposit_rows(path))
    assert sorted(found) == [2, 3, 4, 5]
    assert "on line 3" in found[2][0]
    assert "on line 2" in found[3][0]
    assert "on line 5" in found[4][0]
    assert "on line 4" in found[5][0]


def test_re_importing_the_same_file_is_idempotent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state,action,date\nVNM,signature,2025-10-25\nVNM,ratification,2026-01-05\nEU,signature,2025-10-25\n",
    )
    recorded: list[DepositEvent] = []
    first = check_deposits(read_deposit_rows(path), recorded, UN, UN_RULE, CATALOG, today=TODAY)
    assert first.ok
    assert len(first.events) == 3
    recorded += first.events

    again = check_deposits(read_deposit_rows(path), recorded, UN, UN_RULE, CATALOG, today=TODAY)
    assert again.ok
    assert again.events == ()
    assert again.unchanged == 3

    # The next month's file repeats what is known and adds a denunciation: only that is new.
    path.write_text(path.read_text(encoding="utf-8") + "VNM,denunciation,2027-03-01\n", encoding="utf-8")
    later = check_deposits(read_deposit_rows(path), recorded, UN, UN_RULE, CATALOG, today=TODAY)
    assert later.events == (DepositEvent(UN, "VNM", DepositAction.DENUNCIATION, date(2027, 3, 1)),)
    assert later.unchanged == 3
