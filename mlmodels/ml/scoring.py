"""Scoring: predictions (and class probabilities) for coerced frames, inline JSON
records, and whole CSV files streamed chunk by chunk into a result CSV.

A CSV is never loaded whole: pyarrow reads it in chunks of raw text, each chunk is
coerced with ``schema.coerce_frame`` (the same coercion as at fit time), predicted, and
appended to the result by Arrow's CSV writer, so memory stays bounded by the chunk
size whatever the file size.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .csvio import (
    Chunk,
    check_header,
    frame_from_arrow,
    numbered_chunks,
    read_header,
    sniff_format,
)
from .errors import InputError, MLError
from .fastpath import MAX_ROWS as FAST_MAX_ROWS
from .fastpath import fast_transform_for
from .inorder import in_order
from .inputs import coerce_and_check, coercion_error
from .mlflow_pyfunc import UnknownClass, classifier_labels, ordered_probabilities, plain
from .schema import PLAIN_NUMBER, FeatureSchema

PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"

# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a
# formula. Such cells get a leading apostrophe, which makes the spreadsheet show text.
_FORMULA_CHARACTERS = ["=", "+", "-", "@", "\t", "\r"]
_FORMULA_START = r"^[=+\-@\t\r]"
# ...unless the cell is a plain number ("-1.5", "+3", "-2e-5"): a spreadsheet reads
# those as numbers, not formulas, and prefixing them would turn numbers into text.
_PLAIN_NUMBER = rf"^{PLAIN_NUMBER}$"

ArrayLike = TypeVar("ArrayLike", pd.Series, np.ndarray, pa.Array, pa.ChunkedArray)


@dataclass
class ScoreSummary:
    rows: int
    scoring_seconds: float  # coercion + pipeline only: the model's own cost
    total_seconds: float  # including reading and writing the files


# --- Predictions --------------------------------------------------------------------------


def probability_column(value: Any) -> str:
    return f"{PROBABILITY_PREFIX}{value}"


def predict_frame(pipeline: Any, coerced: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """A frame with ``prediction`` and, for classifiers, one ``probability_<class>``
    column per class in ``schema.classes`` order.

    A classifier's prediction is the class with the highest probability: one pass
    through the pipeline instead of two (predict and predict_proba), and the predicted
    class always agrees with the probabilities shown next to it. A few rows go through
    the pipeline's compiled preprocessing when it has one (``fastpath``).
    """
    estimator, features = pipeline, coerced
    fast = fast_transform_for(pipeline) if len(coerced) <= FAST_MAX_ROWS else None
    if fast is not None:  # the same numbers without scikit-learn's per-call overhead
        estimator, features = pipeline.steps[-1][1], fast(coerced)
    if schema.task != "classification":
        predicted = np.asarray(estimator.predict(features), dtype="float64").reshape(-1)
        return pd.DataFrame({PREDICTION: predicted}, index=coerced.index)
    classes = list(schema.classes or [plain(value) for value in pipeline.classes_])
    try:
        probabilities = ordered_probabilities(pipeline, schema, estimator, features)
    except UnknownClass as error:
        raise MLError(str(error)) from None
    columns: dict[str, Any] = {PREDICTION: classifier_labels(pipeline, schema, probabilities)}
    for position, value in enumerate(classes):
        columns[probability_column(value)] = probabilities[:, position]
    return pd.DataFrame(columns, index=coerced.index)


def records_from_predictions(pred_frame: pd.DataFrame, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Inline JSON results: ``[{"prediction": ..., "probabilities": {class: p}}]``
    (no ``probabilities`` for regression). Values are plain Python, NaN is None."""
    predictions = [
        None if isinstance(value, float) and np.isnan(value) else plain(value)
        for value in pred_frame[PREDICTION].tolist()
    ]
    if schema.task != "classification":
        return [{PREDICTION: value} for value in predictions]
    names = [str(value) for value in schema.classes or []]
    matrix = pred_frame[[probability_column(name) for name in names]].to_numpy(dtype="float64")
    return [
        {PREDICTION: value, "probabilities": dict(zip(names, row, strict=True))}
        for value, row in zip(predictions, matrix.tolist(), strict=True)
    ]


# --- Formula neutralisation ---------------------------------------------------------------


def _neutralise_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values  # numbers and booleans cannot hold a formula
    # The first character against a set is cheaper than a regex over every cell.
    first = pc.utf8_slice_codeunits(values, 0, 1)
    starts = pc.fill_null(pc.is_in(first, value_set=pa.array(_FORMULA_CHARACTERS, first.type)), False)
    if not pc.any(starts).as_py():
        return values  # the common case: no copy at all
    if isinstance(values, pa.ChunkedArray):
        values, starts = values.combine_chunks(), starts.combine_chunks()
    candidates = pc.filter(values, starts)
    try:
        # Numbers Arrow can parse are numbers to a spreadsheet too, unless infinite/NaN.
        number = pc.is_finite(pc.cast(candidates, pa.float64()))
    except pa.ArrowInvalid:
        number = pc.match_substring_regex(candidates, _PLAIN_NUMBER)
    if pc.all(number).as_py():
        return values  # only signed numbers, as in most numeric columns
    prefixed = pc.binary_join_element_wise(
        pa.scalar("'", values.type), candidates, pa.scalar("", values.type)
    )
    return pc.replace_with_mask(values, starts, pc.if_else(number, candidates, prefixed))


def _neutralise_series(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arrow = pa.chunked_array(values.array.__arrow_array__())
        return pd.Series(_neutralise_arrow(arrow), index=values.index, name=values.name, dtype=values.dtype)
    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return values
    # Non-string cells give NaN from the .str accessor: never touched.
    starts = values.str.match(_FORMULA_START).fillna(False).astype(bool)
    if not starts.any():
        return values
    number = values.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    risky = starts & ~number
    return values.mask(risky, "'" + values[risky].astype(str))


def neutralise_formulas(values: ArrayLike) -> ArrayLike:
    """Prefix text cells that a spreadsheet would run as a formula (they start with
    ``= + - @``, tab or carriage return and are not plain numbers) with an apostrophe.
    Accepts and returns a pandas Series, a numpy array or a pyarrow (chunked) array."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _neutralise_arrow(values)
    if isinstance(values, np.ndarray):
        return _neutralise_series(pd.Series(values, dtype=object)).to_numpy(dtype=object)
    return _neutralise_series(values)


# --- CSV scoring --------------------------------------------------------------------------


def unique_output_names(wanted: list[str], taken: set[str]) -> list[str]:
    """Our output column names, suffixed when the input already uses one (a re-scored
    result file has a ``prediction`` column): the user's columns are kept as sent."""
    names = []
    for name in wanted:
        candidate, number = name, 1
        while candidate in taken:
            number += 1
            candidate = f"{name}_{number}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _header_line(names: list[str]) -> bytes:
    buffer = io.StringIO()
    cells = neutralise_formulas(pd.Series(names, dtype=object)).tolist()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


_UNQUOTED = pacsv.WriteOptions(include_header=False, quoting_style="none")
_QUOTED = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def _csv_bytes(table: pa.Table) -> pa.Buffer:
    """The rows as CSV. Unquoted when no cell needs quotes (smaller, and the cells read
    back exactly as sent); Arrow's "needed" style otherwise, which quotes every text
    cell of that chunk — still valid CSV that reads back to the same values."""
    for options in (_UNQUOTED, _QUOTED):
        sink = pa.BufferOutputStream()
        try:
            pacsv.write_csv(table, sink, options)
        except pa.ArrowInvalid:
            continue  # a cell holds a delimiter, quote or newline
        return sink.getvalue()
    raise AssertionError("quoting style 'needed' writes any table")


def _result_table(source: pa.Table, predictions: pd.DataFrame, names: list[str]) -> pa.Table:
    arrays = [_neutralise_arrow(column) for column in source.columns]
    for column in predictions.columns:
        values = predictions[column].to_numpy()
        arrays.append(_neutralise_arrow(pa.array(values, from_pandas=True)))
    return pa.Table.from_arrays(arrays, names=names)


def _covered_seconds(spans: list[tuple[float, float]]) -> float:
    """How long at least one of the (start, end) spans was running: chunks scored side
    by side count once."""
    covered, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            covered += end - max(start, reached)
            reached = end
    return covered


def score_csv(
    pipeline: Any,
    schema: FeatureSchema,
    source_path: str | os.PathLike[str],
    result_path: str | os.PathLike[str],
    *,
    chunk_rows: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
    total_rows: int | None = None,
    file_mode: int | None = None,
    observe: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None,
    threads: int = 1,
) -> ScoreSummary:
    """Score a CSV file into ``result_path``: every input column as sent (raw text),
    then ``prediction`` and the ``probability_<class>`` columns; text cells that a
    spreadsheet would run as formulas are neutralised.

    The result appears atomically (written to a temporary file, then renamed), so a
    failed run never leaves half a result, with ``file_mode`` (else the temporary
    file's private 0600). ``progress(rows_done, total_rows)`` is
    called after each chunk; ``total_rows`` is passed through as given, 0 if unknown.
    ``observe(coerced, predictions)`` sees each chunk's coerced features and its
    prediction frame (monitoring samples them); it must not raise.
    The input should have passed ``inputs.validate_csv``; an unreadable value here is
    still refused (InputError) rather than silently imputed.
    """
    started = time.perf_counter()
    fmt = sniff_format(source_path)
    raw_names = read_header(source_path, fmt)
    names = check_header(raw_names, min_columns=1)
    raw_by_name = dict(zip(names, raw_names, strict=True))
    missing = [name for name in schema.feature_names if name not in raw_by_name]
    if missing:
        raise InputError("missing columns the model needs: " + ", ".join(map(repr, missing)))
    feature_raw = [raw_by_name[name] for name in schema.feature_names]

    ours = [PREDICTION]
    if schema.task == "classification":
        ours += [probability_column(value) for value in schema.classes or []]
    output_names = list(raw_names) + unique_output_names(ours, set(raw_names))

    directory = os.path.dirname(os.path.abspath(result_path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".scoring-", suffix=".csv.part")
    rows_written = 0
    scoring_spans: list[tuple[float, float]] = []

    def score_chunk(chunk: Chunk) -> tuple[pd.DataFrame, pd.DataFrame, tuple[float, float]]:
        chunk_started = time.perf_counter()
        features = frame_from_arrow(chunk.table.select(feature_raw), schema.feature_names)
        coerced, problems, total = coerce_and_check(features, schema.features)
        if total:
            raise coercion_error(problems, total, schema.features, row_offset=chunk.offset, field_name="file")
        predictions = predict_frame(pipeline, coerced, schema)
        return coerced, predictions, (chunk_started, time.perf_counter())

    def write_chunk(output: BinaryIO, table: pa.Table, predictions: pd.DataFrame) -> int:
        output.write(_csv_bytes(_result_table(table, predictions, output_names)))
        return table.num_rows

    def finish(pending: Future[int]) -> None:
        nonlocal rows_written
        rows_written += pending.result()
        if progress is not None:
            progress(rows_written, total_rows or 0)

    try:
        # Chunks are scored on ``threads`` threads while this one reads the next, and
        # written in file order by one more thread: Arrow's kernels, NumPy's arithmetic
        # and the file write release the GIL, so the work spreads over the cores. The
        # rows in flight stay at about ``chunk_rows``: with several scoring threads
        # each chunk is that much smaller. Waiting for each write before queueing the
        # next keeps at most one more chunk in memory. (The executors finish their work
        # before the file is closed.)
        chunks = numbered_chunks(source_path, fmt, raw_names, chunk_rows=chunk_rows, threads=threads)
        pending: Future[int] | None = None
        with os.fdopen(handle, "wb") as output, ThreadPoolExecutor(max_workers=1) as writer:
            output.write(_header_line(output_names))
            with closing(in_order(score_chunk, chunks, threads=threads)) as scored:
                for chunk, (coerced, predictions, span) in scored:
                    scoring_spans.append(span)
                    if observe is not None:
                        observe(coerced, predictions)
                    if pending is not None:
                        finish(pending)
                    pending = writer.submit(write_chunk, output, chunk.table, predictions)
            if pending is not None:
                finish(pending)
        if file_mode is not None:
            os.chmod(temporary, file_mode)
        os.replace(temporary, result_path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return ScoreSummary(
        rows=rows_written,
        scoring_seconds=_covered_seconds(scoring_spans),
        total_seconds=time.perf_counter() - started,
    )
