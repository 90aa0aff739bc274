"""Reading uploaded CSV tables: sniff the encoding and delimiter, refuse what is not a
table (binary files, ragged rows, bad headers), and return the cells as raw text.

The cells stay text on purpose (missing tokens such as ``NA`` or ``?`` included):
``schema.coerce_frame`` is the one place that turns text into values, at fit time and
at predict time alike, so a value cannot mean one thing when profiled or trained and
another when scored.

Parsing is done by pyarrow (fast, low memory, Arrow-backed ``str`` columns in pandas).
Its error reports do not carry exact physical line numbers, so when a row has the wrong
number of fields we re-read the file with Python's ``csv`` module, which does, and name
the line. Line numbers are 1-based physical lines with the header as line 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import DatasetError
from .schema import FALSE_TOKENS, TRUE_TOKENS, coerce_column, missing_mask

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
# Lines of the sample looked at when choosing a delimiter: enough to see a pattern,
# few enough that csv.Sniffer (which is slow on big samples) stays instant.
_SNIFF_LINES = 100
_BLOCK_SIZE = 1 << 20  # pyarrow read block; the streaming reader keeps dozens in flight

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
    encoding: str  # a Python codec name: "utf-8-sig", "cp1251" or "latin-1"
    delimiter: str
    encoding_note: str | None = None  # said to the user when we had to guess

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str  # "numeric" | "categorical" | "boolean"
    missing: int  # empty cells and missing tokens (NA, ?, --, ...)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Table:
    frame: pd.DataFrame  # raw text, one ``str`` column per header name (stripped)
    format: CsvFormat
    columns: list[ColumnInfo]


_JSON_START = re.compile(
    rb'\s*(?:\{\s*["}]|\[\s*(?:[\[{"\]]|(?:-?[0-9][0-9.eE+-]*|true|false|null)\s*,))'
)


def _fail(message: str) -> DatasetError:
    return DatasetError(message, {"file": [message]})


# --- Sniffing ---------------------------------------------------------------------------


def _read_sample(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SAMPLE_BYTES)


def _refuse_binary(sample: bytes) -> None:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _fail("this looks like UTF-16 text; please save the file as UTF-8 CSV")
    for magic, name in _MAGIC_NUMBERS:
        if sample.startswith(magic):
            raise _fail(f"this looks like {name}, not CSV text")
    if b"\x00" in sample:
        raise _fail("the file contains NUL bytes; this looks like a binary file, not CSV text")
    # Control characters other than tab/newline/form feed do not occur in real CSV text.
    controls = sum(sample.count(bytes([code])) for code in range(32) if code not in (9, 10, 12, 13))
    if sample and controls > max(8, len(sample) // 100):
        raise _fail("the file contains binary data, not CSV text")
    # A JSON document (an object, or a list of objects/values) would otherwise be read as
    # a one-line CSV and refused for something beside the point (duplicate columns).
    if _JSON_START.match(sample.removeprefix(codecs.BOM_UTF8)):
        raise _fail(
            "this file holds JSON, not CSV text; save it as CSV (for predictions, JSON rows "
            "can be sent as inputs in a JSON body instead)"
        )


def _not_utf8_block(path: str | os.PathLike[str], sample: bytes) -> bytes | None:
    """None if the whole file is valid UTF-8, else the block where it stops being so
    (the bytes to guess the real encoding from). The whole file is checked, at about a
    second per GB, because one Latin-1 byte deep in a file would otherwise make the
    Arrow reader fail halfway through. The incremental decoder copes with a block that
    ends inside a multi-byte character."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    block = sample
    try:
        decoder.decode(sample, final=False)
        with open(path, "rb") as handle:
            handle.seek(len(sample))
            while block := handle.read(1 << 20):
                decoder.decode(block, final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return block or sample
    return None


def _guess_single_byte_encoding(sample: bytes) -> str:
    """cp1251 for Russian text (Excel exports), otherwise latin-1, which decodes any byte.

    Every accented Latin-1 letter is also a Cyrillic letter in cp1251, so the share of
    Cyrillic letters alone cannot tell them apart. Word shape can: Russian words are
    made of high bytes only, while accented letters in Western text sit between plain
    ASCII letters ("café", "Müller").
    """
    high = [position for position, byte in enumerate(sample) if byte >= 0x80]
    if not high:
        return "latin-1"
    try:
        decoded = bytes(sample[position] for position in high).decode("cp1251")
    except UnicodeDecodeError:
        return "latin-1"  # cp1251 leaves 0x98 undefined
    cyrillic = sum(1 for char in decoded if "\u0400" <= char <= "\u04ff" and char.isalpha())

    def next_to_ascii_letter(position: int) -> bool:
        neighbours = sample[max(position - 1, 0) : position] + sample[position + 1 : position + 2]
        return any(chr(byte).isascii() and chr(byte).isalpha() for byte in neighbours)

    mixed = sum(1 for position in high if next_to_ascii_letter(position))
    if cyrillic / len(high) >= 0.6 and mixed / len(high) < 0.3:
        return "cp1251"
    return "latin-1"


def _complete_lines(text: str, truncated: bool) -> str:
    """The sample without its last line when the sample cut the file mid-line."""
    if truncated and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def _field_counts(text: str, delimiter: str) -> list[int]:
    counts = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if _is_blank(row):
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
    (the encoding check covers the whole file, see ``_not_utf8_block``)."""
    sample = _read_sample(path)
    _refuse_binary(sample)
    not_utf8 = _not_utf8_block(path, sample)
    if not_utf8 is None:
        encoding, note = "utf-8-sig", None
    else:
        encoding = _guess_single_byte_encoding(not_utf8)
        note = f"not valid UTF-8; read as {encoding}"
    text = sample.decode(encoding, errors="ignore")
    text = _complete_lines(text.removeprefix("\ufeff"), truncated=len(sample) == SAMPLE_BYTES)
    return CsvFormat(encoding=encoding, delimiter=_sniff_delimiter(text), encoding_note=note)


# --- Header -------------------------------------------------------------------------------


def _is_blank(row: list[str]) -> bool:
    """A blank line: csv gives [] for an empty one; a line of spaces is blank too."""
    return not row or (len(row) == 1 and not row[0].strip())


def _open_text(path: str | os.PathLike[str], fmt: CsvFormat) -> io.TextIOWrapper:
    return open(path, encoding=fmt.encoding, newline="")  # newline="" for quoted newlines


def read_header(path: str | os.PathLike[str], fmt: CsvFormat) -> list[str]:
    """The raw header names (unstripped), refusing an empty file."""
    with _open_text(path, fmt) as handle:
        for row in csv.reader(handle, delimiter=fmt.delimiter):
            if not _is_blank(row):
                return row
    raise _fail("the file is empty")


def check_header(raw_names: list[str], *, min_columns: int = 2) -> list[str]:
    """Stripped names, refusing empty and duplicate names and too few columns."""
    names = [name.strip() for name in raw_names]
    empty = [str(position) for position, name in enumerate(names, start=1) if not name]
    if empty:
        which = ", ".join(empty)
        raise _fail(
            f"column {which} has no name" if len(empty) == 1 else f"columns {which} have no name"
        )
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(position)
    duplicates = [
        f"'{name}' (columns {', '.join(map(str, where))})"
        for name, where in positions.items()
        if len(where) > 1
    ]
    if duplicates:
        raise _fail("duplicate column names: " + "; ".join(duplicates))
    if len(names) < min_columns:
        raise _fail(
            f"the header has {len(names)} column ({names[0]!r}); the table needs at least two "
            "columns: features and a target (is the delimiter right?)"
        )
    return names


# --- Arrow reading ------------------------------------------------------------------------


def _arrow_encoding(fmt: CsvFormat) -> str:
    # Arrow decodes UTF-8 natively and skips a BOM itself; any other name makes it
    # transcode through Python codecs, which is much slower.
    return "utf8" if fmt.encoding.replace("-", "").lower() in ("utf8", "utf8sig") else fmt.encoding


class _RaggedRows:
    """Invalid-row handler for pyarrow: skips blank (whitespace-only) lines silently and
    counts rows with the wrong number of fields; ``stop`` makes the first one fatal."""

    def __init__(self, *, stop: bool) -> None:
        self.stop = stop
        self.count = 0

    def __call__(self, row: Any) -> str:
        if not row.text.strip():
            return "skip"
        self.count += 1
        return "error" if self.stop else "skip"


def _open_arrow(
    path: str | os.PathLike[str],
    fmt: CsvFormat,
    raw_names: list[str],
    handler: _RaggedRows,
    include: list[str] | None = None,
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=_arrow_encoding(fmt), block_size=_BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(
            delimiter=fmt.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=True,
            invalid_row_handler=handler,
        ),
        convert_options=pacsv.ConvertOptions(
            # Every cell stays text, and an empty cell stays "" (not null): coercion
            # decides later what counts as missing.
            column_types={name: pa.large_string() for name in raw_names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            include_columns=include or [],
        ),
    )


def _first_ragged_line(path: str | os.PathLike[str], fmt: CsvFormat) -> tuple[int, int, int] | None:
    """(line, fields found, fields expected) of the first row whose field count differs
    from the header's, reading with Python's csv module for exact line numbers."""
    with _open_text(path, fmt) as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter)
        expected = None
        previous_line = 0
        try:
            for row in reader:
                start_line = previous_line + 1  # a quoted newline makes a row span lines
                previous_line = reader.line_num
                if _is_blank(row):
                    continue
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    return start_line, len(row), expected
        except csv.Error:
            return None
    return None


def _ragged_error(
    path: str | os.PathLike[str], fmt: CsvFormat, count: int, detail: str = ""
) -> DatasetError:
    found = _first_ragged_line(path, fmt)
    if found is None:
        if "straddl" in detail:  # pyarrow: one row does not fit in a read block
            return _fail(
                f"a line is longer than {_BLOCK_SIZE // (1024 * 1024)} MB, which no table row "
                "should be (is this a CSV file? an unclosed quote also makes one endless line)"
            )
        return _fail(f"the file cannot be read as CSV{': ' + detail if detail else ''}")
    line, fields, expected = found
    message = f"line {line} has {fields} field{'s' if fields != 1 else ''}, expected {expected}"
    if count > 1:
        message += (
            f" (and {count - 1} more row{'s' if count > 2 else ''} with the wrong number of fields)"
        )
    return _fail(message)


def iter_arrow_chunks(
    path: str | os.PathLike[str],
    fmt: CsvFormat,
    raw_names: list[str],
    *,
    chunk_rows: int,
    include: list[str] | None = None,
) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_rows`` rows (the last one shorter) of raw text. A row
    with the wrong number of fields stops the stream with a DatasetError naming it."""
    handler = _RaggedRows(stop=True)
    try:
        reader = _open_arrow(path, fmt, raw_names, handler, include)
    except pa.ArrowInvalid as error:
        raise _ragged_error(path, fmt, 1, str(error)) from error
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as error:
            raise _ragged_error(path, fmt, 1, str(error)) from error
        if not batch.num_rows:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def frame_from_arrow(table: pa.Table, names: list[str]) -> pd.DataFrame:
    frame = table.to_pandas()
    frame.columns = names
    return frame


def iter_csv_chunks(
    path: str | os.PathLike[str],
    fmt: CsvFormat,
    *,
    chunk_rows: int,
    columns: list[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """DataFrames of at most ``chunk_rows`` rows of raw text, with stripped column names;
    ``columns`` (stripped names) limits which are read. Blank lines are skipped."""
    raw_names = read_header(path, fmt)
    names = check_header(raw_names, min_columns=1)
    if columns is None:
        wanted_raw, wanted = raw_names, names
    else:
        by_name = dict(zip(names, raw_names, strict=True))
        unknown = [name for name in columns if name not in by_name]
        if unknown:
            raise _fail("the file has no column " + ", ".join(map(repr, unknown)))
        wanted_raw, wanted = [by_name[name] for name in columns], list(columns)
    for table in iter_arrow_chunks(path, fmt, raw_names, chunk_rows=chunk_rows, include=wanted_raw):
        yield frame_from_arrow(table, wanted)


# --- Whole tables --------------------------------------------------------------------------


def infer_kind(text: pd.Series) -> tuple[str, int]:
    """The kind of a raw text column and its count of missing cells.

    numeric: every present value reads as a finite number (by the same rules that
    coerce it later, so a numeric column never fails coercion); boolean: every present
    value is true/false/yes/no/t/f/y/n in any case (0/1 stays numeric); otherwise
    categorical. A column with no present values is categorical: there is no evidence
    of numbers, and a categorical column accepts any value at prediction time.
    """
    # Judging a text column's every value as a number is slow when it fails (pandas
    # parses each one); the first thousand values usually settle it.
    _, head_bad = coerce_column(text.iloc[:1000], "numeric")
    missing = int(missing_mask(text.str.strip()).sum())
    present = len(text) - missing
    if present and not head_bad.any():
        _, bad = coerce_column(text, "numeric")
        if not bad.any():
            return "numeric", missing
    if present:
        lowered = text.str.strip().str.lower()
        known = lowered.isin(TRUE_TOKENS | FALSE_TOKENS) | missing_mask(lowered)
        if bool(known.all()):
            return "boolean", missing
    return "categorical", missing


def read_table(
    path: str | os.PathLike[str],
    *,
    max_rows: int,
    max_columns: int,
    max_bytes: int | None = None,
) -> Table:
    """Read an uploaded CSV into raw text columns with their inferred kinds, or raise
    DatasetError (field ``file``) saying what is wrong and where."""
    size = os.path.getsize(path)
    if size == 0:
        raise _fail("the file is empty")
    if max_bytes is not None and size > max_bytes:
        raise _fail(f"the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    fmt = sniff_format(path)
    raw_names = read_header(path, fmt)
    if len(raw_names) > max_columns:
        raise _fail(f"the file has {len(raw_names)} columns; the limit is {max_columns}")
    names = check_header(raw_names)

    handler = _RaggedRows(stop=False)  # read on, to say how many rows are ragged
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        reader = _open_arrow(path, fmt, raw_names, handler)
        for batch in reader:
            rows += batch.num_rows
            if rows > max_rows:
                raise _fail(f"the file has more than {max_rows:,} rows; the limit is {max_rows:,}")
            batches.append(batch)
    except pa.ArrowInvalid as error:
        raise _ragged_error(path, fmt, max(handler.count, 1), str(error)) from error
    if handler.count:
        raise _ragged_error(path, fmt, handler.count)
    if rows == 0:
        raise _fail("the file has a header but no data rows")
    if len(reader.schema.names) != len(names):  # Arrow and csv disagree on the header
        raise _fail("the header line cannot be read")

    table = pa.Table.from_batches(batches, schema=reader.schema)
    frame = frame_from_arrow(table, names)
    columns = []
    for name in names:
        kind, missing = infer_kind(frame[name])
        columns.append(ColumnInfo(name=name, kind=kind, missing=missing))
    return Table(frame=frame, format=fmt, columns=columns)
