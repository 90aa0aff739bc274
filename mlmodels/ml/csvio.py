"""Reading uploaded CSV tables: with the format ``sniffing.sniff_format`` found (the
encoding and delimiter, binary files refused), refuse what is not a table (ragged
rows, bad headers) and return the cells as raw text.

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

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import DatasetError
from .schema import coerce_column, infer_kind, missing_mask, out_of_range, too_large_message
from .sniffing import CsvFormat, file_error, is_blank_row, sniff_format

_BLOCK_SIZE = 1 << 20  # pyarrow read block; the streaming reader keeps dozens in flight


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


# --- Header -------------------------------------------------------------------------------


def _open_text(path: str | os.PathLike[str], fmt: CsvFormat) -> io.TextIOWrapper:
    return open(path, encoding=fmt.encoding, newline="")  # newline="" for quoted newlines


# Python's csv module refuses a field longer than this (csv.field_size_limit()): no
# column name comes near it, but an unclosed quote makes the rest of a file one field.
MAX_HEADER_CELL_BYTES = csv.field_size_limit()


def read_header(path: str | os.PathLike[str], fmt: CsvFormat) -> list[str]:
    """The raw header names (unstripped), refusing an empty file and a header cell
    longer than MAX_HEADER_CELL_BYTES."""
    with _open_text(path, fmt) as handle:
        try:
            for row in csv.reader(handle, delimiter=fmt.delimiter):
                if not is_blank_row(row):
                    return row
        except csv.Error as error:
            if "field larger than field limit" not in str(error):
                raise file_error(f"the header line cannot be read as CSV: {error}") from None
            limit = MAX_HEADER_CELL_BYTES // 1024
            raise file_error(
                f"a column name in the header is longer than {limit} KB, which no column name "
                "should be (is a quote left open? it makes the rest of the file one cell)"
            ) from None
    raise file_error("the file is empty")


def check_column_count(count: int, limit: int) -> None:
    """The one column limit of uploaded tables (datasets and prediction files)."""
    if count > limit:
        raise file_error(f"the file has {count} columns; the limit is {limit}")


def check_header(raw_names: list[str], *, min_columns: int = 2) -> list[str]:
    """Stripped names, refusing empty and duplicate names and too few columns."""
    names = [name.strip() for name in raw_names]
    empty = [str(position) for position, name in enumerate(names, start=1) if not name]
    if empty:
        which = ", ".join(empty)
        raise file_error(
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
        raise file_error("duplicate column names: " + "; ".join(duplicates))
    if len(names) < min_columns:
        raise file_error(
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
                if is_blank_row(row):
                    continue
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    return start_line, len(row), expected
        except csv.Error:
            return None
    return None


def _ragged_error(path: str | os.PathLike[str], fmt: CsvFormat, count: int, detail: str = "") -> DatasetError:
    found = _first_ragged_line(path, fmt)
    if found is None:
        if "straddl" in detail:  # pyarrow: one row does not fit in a read block
            return file_error(
                f"a line is longer than {_BLOCK_SIZE // (1024 * 1024)} MB, which no table row "
                "should be (is this a CSV file? an unclosed quote also makes one endless line)"
            )
        return file_error(f"the file cannot be read as CSV{': ' + detail if detail else ''}")
    line, fields, expected = found
    message = f"line {line} has {fields} field{'s' if fields != 1 else ''}, expected {expected}"
    if count > 1:
        message += f" (and {count - 1} more row{'s' if count > 2 else ''} with the wrong number of fields)"
    return file_error(message)


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


@dataclass(frozen=True)
class Chunk:
    table: pa.Table
    offset: int  # rows of the file before this chunk


def numbered_chunks(
    path: str | os.PathLike[str],
    fmt: CsvFormat,
    raw_names: list[str],
    *,
    chunk_rows: int,
    threads: int = 1,
    include: list[str] | None = None,
) -> Iterator[Chunk]:
    """``iter_arrow_chunks``' tables, each with the number of rows before it (error
    messages name a row of the file whichever thread works on the chunk). With
    ``threads`` working on chunks side by side each chunk is ``chunk_rows / threads``
    rows, so the rows in flight stay at about ``chunk_rows``."""
    offset = 0
    size = max(1, chunk_rows // max(1, threads))
    for table in iter_arrow_chunks(path, fmt, raw_names, chunk_rows=size, include=include):
        yield Chunk(table, offset)
        offset += table.num_rows


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
            raise file_error("the file has no column " + ", ".join(map(repr, unknown)))
        wanted_raw, wanted = [by_name[name] for name in columns], list(columns)
    for table in iter_arrow_chunks(path, fmt, raw_names, chunk_rows=chunk_rows, include=wanted_raw):
        yield frame_from_arrow(table, wanted)


def read_head(
    path: str | os.PathLike[str],
    fmt: CsvFormat,
    raw_names: list[str],
    *,
    columns: list[str],
    rows: int,
    cell_chars: int,
) -> list[list[str]]:
    """The first ``rows`` data rows of ``columns`` (raw header names, in that order),
    each cell cut to ``cell_chars`` characters with "…" after a cut: a preview that
    stays small whatever the width of the file or the length of its cells."""
    for block_size in (_BLOCK_SIZE, _BLOCK_SIZE * 32):
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=_arrow_encoding(fmt), block_size=block_size),
                parse_options=pacsv.ParseOptions(
                    delimiter=fmt.delimiter, newlines_in_values=True, ignore_empty_lines=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.large_string() for name in raw_names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                    include_columns=columns,
                ),
            )
            batches, count = [], 0
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if count >= rows:
                    break
        except pa.ArrowInvalid as error:
            if "straddl" in str(error):  # a row longer than the block: once more, wider
                continue
            raise file_error(f"the file cannot be read as CSV: {error}") from error
        break
    else:
        raise file_error("a row is too long to show")
    table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, rows)
    cells = []
    for column in table.columns:
        cut = pc.utf8_slice_codeunits(column, 0, cell_chars)
        longer = pc.greater(pc.utf8_length(column), cell_chars)
        marked = pc.binary_join_element_wise(cut, pa.scalar("…", column.type), pa.scalar("", column.type))
        cells.append(pc.if_else(longer, marked, cut).to_pylist())
    return [list(row) for row in zip(*cells, strict=True)] if cells else []


# --- Whole tables --------------------------------------------------------------------------


def column_info(name: str, text: pd.Series) -> ColumnInfo:
    """A raw text column's kind (by ``schema.infer_kind``, the rule training uses too)
    and its count of missing cells."""
    missing = int(missing_mask(text.str.strip()).sum())
    return ColumnInfo(name=name, kind=infer_kind(text), missing=missing)


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
        raise file_error("the file is empty")
    if max_bytes is not None and size > max_bytes:
        raise file_error(f"the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    fmt = sniff_format(path)
    raw_names = read_header(path, fmt)
    check_column_count(len(raw_names), max_columns)
    names = check_header(raw_names)

    handler = _RaggedRows(stop=False)  # read on, to say how many rows are ragged
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        reader = _open_arrow(path, fmt, raw_names, handler)
        for batch in reader:
            rows += batch.num_rows
            if rows > max_rows:
                raise file_error(f"the file has more than {max_rows:,} rows; the limit is {max_rows:,}")
            batches.append(batch)
    except pa.ArrowInvalid as error:
        raise _ragged_error(path, fmt, max(handler.count, 1), str(error)) from error
    if handler.count:
        raise _ragged_error(path, fmt, handler.count)
    if rows == 0:
        raise file_error("the file has a header but no data rows")
    if len(reader.schema.names) != len(names):  # Arrow and csv disagree on the header
        raise file_error("the header line cannot be read")

    table = pa.Table.from_batches(batches, schema=reader.schema)
    frame = frame_from_arrow(table, names)
    columns = [column_info(name, frame[name]) for name in names]
    _refuse_huge_numbers(frame, columns)
    return Table(frame=frame, format=fmt, columns=columns)


def _refuse_huge_numbers(frame: pd.DataFrame, columns: list[ColumnInfo]) -> None:
    """A numeric column holding a number beyond ±MAX_ABS_NUMBER cannot be trained on
    (the scaler overflows): refused here, by the rule predictions follow too."""
    problems = []
    for column in columns:
        if column.kind != "numeric":
            continue
        values, _ = coerce_column(frame[column.name], "numeric")
        far = out_of_range(values).to_numpy().nonzero()[0]
        if len(far):
            # Row numbers count data rows from 1, as in prediction messages.
            row = int(far[0]) + 1
            problems.append(
                f"row {row}, column '{column.name}': {too_large_message(float(values.iloc[far[0]]))}"
            )
    if problems:
        message = (
            problems[0] if len(problems) == 1 else f"{len(problems)} columns hold numbers that are too large"
        )
        raise DatasetError(message, {"file": problems[:20]})
