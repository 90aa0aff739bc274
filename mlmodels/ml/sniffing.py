"""Sniffing an uploaded CSV before it is read: refuse what is not CSV text (binary
formats by their first bytes, NUL and control bytes, JSON documents), settle its
encoding (see encodings.py) and guess its delimiter from the first lines. The result
is a ``CsvFormat``, which csvio.py reads the table with. No Django here.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from .encodings import encoding_label, guess_single_byte_encoding, not_utf8_block
from .errors import DatasetError

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
# Lines of the sample looked at when choosing a delimiter: enough to see a pattern,
# few enough that csv.Sniffer (which is slow on big samples) stays instant.
_SNIFF_LINES = 100

# First bytes of formats people upload by mistake, and how we name them to the user.
_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip file (an Excel .xlsx workbook is one)"),
    (b"PK\x05\x06", "an empty zip file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls (or other Office) file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip file"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


@dataclass(frozen=True)
class CsvFormat:
    # A Python codec name: "utf-8-sig" or one of encodings.SINGLE_BYTE_ENCODINGS
    # ("cp1252", "cp1250", "cp1251", "latin-1"); ``encoding_label`` names it for people.
    encoding: str
    delimiter: str
    encoding_note: str | None = None  # said to the user when we had to guess

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_JSON_START = re.compile(rb'\s*(?:\{\s*["}]|\[\s*(?:[\[{"\]]|(?:-?[0-9][0-9.eE+-]*|true|false|null)\s*,))')


def file_error(message: str) -> DatasetError:
    return DatasetError(message, {"file": [message]})


def is_blank_row(row: list[str]) -> bool:
    """A blank line: csv gives [] for an empty one; a line of spaces is blank too."""
    return not row or (len(row) == 1 and not row[0].strip())


# --- Sniffing ---------------------------------------------------------------------------


def _read_sample(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SAMPLE_BYTES)


def _refuse_binary(sample: bytes) -> None:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise file_error("this looks like UTF-16 text; please save the file as UTF-8 CSV")
    for magic, name in _MAGIC_NUMBERS:
        if sample.startswith(magic):
            raise file_error(f"this looks like {name}, not CSV text")
    if b"\x00" in sample:
        raise file_error("the file contains NUL bytes; this looks like a binary file, not CSV text")
    # Control characters other than tab/newline/form feed do not occur in real CSV text.
    controls = sum(sample.count(bytes([code])) for code in range(32) if code not in (9, 10, 12, 13))
    if sample and controls > max(8, len(sample) // 100):
        raise file_error("the file contains binary data, not CSV text")
    # A JSON document (an object, or a list of objects/values) would otherwise be read as
    # a one-line CSV and refused for something beside the point (duplicate columns).
    if _JSON_START.match(sample.removeprefix(codecs.BOM_UTF8)):
        raise file_error(
            "this file holds JSON, not CSV text; save it as CSV (for predictions, JSON rows "
            "can be sent as inputs in a JSON body instead)"
        )


def _complete_lines(text: str, truncated: bool) -> str:
    """The sample without its last line when the sample cut the file mid-line."""
    if truncated and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def _field_counts(text: str, delimiter: str) -> list[int]:
    counts = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if is_blank_row(row):
                continue
            counts.append(len(row))
            if len(counts) >= _SNIFF_LINES:
                break
    except csv.Error:
        pass  # e.g. a quoted field cut by the end of the sample
    return counts


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields
    most consistently, with csv.Sniffer's guess breaking ties. Counting fields with
    csv.reader respects quotes, so commas inside quoted names do not mislead it."""
    head = "".join(text.splitlines(keepends=True)[:_SNIFF_LINES])
    try:
        sniffed: str | None = csv.Sniffer().sniff(head, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    best, best_score = ",", None
    for delimiter in DELIMITERS:
        counts = _field_counts(text, delimiter)
        if not counts:
            continue
        mode, frequency = Counter(counts).most_common(1)[0]
        score = (
            mode > 1,
            round(frequency / len(counts), 2),
            counts[0] == mode,  # the header agrees with the body
            delimiter == sniffed,
            mode,
        )
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def sniff_format(path: str | os.PathLike[str]) -> CsvFormat:
    """Refuse binary files and guess the encoding and delimiter from the first 64 KB
    (the encoding check covers the whole file, see ``encodings.not_utf8_block``)."""
    sample = _read_sample(path)
    _refuse_binary(sample)
    not_utf8 = not_utf8_block(path, sample)
    if not_utf8 is None:
        encoding, note = "utf-8-sig", None
    else:
        encoding = guess_single_byte_encoding(path, not_utf8)
        note = f"not valid UTF-8; read as {encoding}, {encoding_label(encoding)}"
    text = sample.decode(encoding, errors="ignore")
    text = _complete_lines(text.removeprefix("\ufeff"), truncated=len(sample) == SAMPLE_BYTES)
    return CsvFormat(encoding=encoding, delimiter=_sniff_delimiter(text), encoding_note=note)
