"""Read real CSV files with the engine and print what a user would see on the dataset
page: shape, encoding, delimiter, each column's kind and missing count, and the time.

    .venv/bin/python bench/read_datasets.py DIR_OR_FILE [...]

Used on the public datasets kept beside the project (not in it); prints, asserts
nothing."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlmodels.ml.csvio import read_table  # noqa: E402
from mlmodels.ml.encodings import encoding_label  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="CSV files, or folders of them")
    args = parser.parse_args()
    files = sorted(p for path in args.paths for p in ([path] if path.is_file() else path.glob("*.csv")))
    for path in files:
        started = time.perf_counter()
        table = read_table(path, max_rows=1_000_000, max_columns=1_000)
        seconds = time.perf_counter() - started
        rows, columns = table.frame.shape
        print(
            f"{path.name}: {rows:,} rows × {columns} columns, {encoding_label(table.format.encoding)}, "
            f"delimiter {table.format.delimiter!r}, read in {seconds:.2f} s"
        )
        for column in table.columns:
            print(f"    {column.name:<32} {column.kind:<12} {column.missing:>7,} missing")


if __name__ == "__main__":
    main()
