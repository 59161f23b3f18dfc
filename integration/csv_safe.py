"""Every CSV the product writes goes through here, so no cell reaches a spreadsheet as a live formula.

Names and titles come from the Directory, Classroom, Moodle and Drive — anyone who can rename
themselves or a file can put ``=HYPERLINK(...)`` into a governors' report. Spreadsheet programs
evaluate a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (and tab/CR, which some
strip before looking), so such a cell is written with a leading apostrophe: shown as text,
never evaluated (the OWASP "CSV injection" recommendation). Numbers the product itself
computes (``int``/``float``) are not text from outside and are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import IO, Any

# The characters a spreadsheet treats as the start of a formula; the full-width forms are
# folded to these by some spreadsheet locales, so they are neutralised too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """The value as it may be written into a CSV cell: text that could start a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


def write_rows(fh: IO[str], header: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a header and rows to ``fh`` with every cell made safe (``\\n`` line ends, minimal quoting)."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(safe_row(header))
    for row in rows:
        w.writerow(safe_row(row))


def to_csv(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """The whole CSV as one string (for a CLI's stdout or an HTTP response body)."""
    buf = io.StringIO()
    write_rows(buf, header, rows)
    return buf.getvalue()


__all__ = ["FORMULA_STARTS", "safe_cell", "safe_row", "to_csv", "write_rows"]
