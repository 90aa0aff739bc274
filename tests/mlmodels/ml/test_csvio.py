import gzip
from pathlib import Path

import pandas as pd
import pytest

from mlmodels.ml.csvio import CsvFormat, iter_csv_chunks, read_table, sniff_format
from mlmodels.ml.encodings import encoding_label
from mlmodels.ml.errors import DatasetError

LIMITS = {"max_rows": 1000, "max_columns": 50}


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read(tmp_path: Path, content: str | bytes, **limits: int):
    return read_table(write(tmp_path, content), **{**LIMITS, **limits})


def refusal(tmp_path: Path, content: str | bytes, **limits: int) -> str:
    with pytest.raises(DatasetError) as caught:
        read(tmp_path, content, **limits)
    assert caught.value.errors == {"file": [caught.value.message]}
    return caught.value.message


# --- Encodings and formats ----------------------------------------------------------------


def test_it_reads_a_utf8_file_with_a_bom(tmp_path):
    table = read(tmp_path, "\ufeffage,name\n1,Zoë\n")
    assert list(table.frame.columns) == ["age", "name"]
    assert table.frame["name"].tolist() == ["Zoë"]
    assert table.format == CsvFormat(encoding="utf-8-sig", delimiter=",", encoding_note=None)


def test_it_falls_back_to_cp1251_and_says_so(tmp_path):
    content = "имя;возраст;город\nИван;30;Москва\nПётр;41;Тверь\n".encode("cp1251")
    table = read(tmp_path, content)
    assert table.format.encoding == "cp1251"
    assert "cp1251" in table.format.encoding_note
    assert "UTF-8" in table.format.encoding_note
    assert list(table.frame.columns) == ["имя", "возраст", "город"]
    assert table.frame["город"].tolist() == ["Москва", "Тверь"]


def test_western_text_that_is_not_utf8_reads_right_and_says_how(tmp_path):
    table = read(tmp_path, "café,prix\ncrème brûlée,4.5\n".encode("latin-1"))
    # Bytes 0xA0-0xFF are the same letters in Latin-1 and Windows-1252.
    assert table.format.encoding == "cp1252"
    assert table.format.encoding_note == ("not valid UTF-8; read as cp1252, Windows-1252 (Western European)")
    assert table.frame["café"].tolist() == ["crème brûlée"]


@pytest.mark.parametrize(
    ("text", "written_as"),
    [
        ("Name;Straße;Wert\nMüller;Hauptstraße 5;3\nJürgen;Köln;4\n", "latin-1"),
        ("Имя,Город,Email\nИван,Москва,ivan@mail.ru\nПётр,Тверь,petr@ya.ru\n", "cp1251"),
    ],
)
def test_word_shape_tells_western_text_from_cp1251(tmp_path, text, written_as):
    # Every accented Latin-1 letter is a Cyrillic letter in cp1251: "é" reads as "й".
    table = read(tmp_path, text.encode(written_as))
    assert (table.format.encoding == "cp1251") == (written_as == "cp1251")
    assert list(table.frame.columns) == text.splitlines()[0].split(table.format.delimiter)


def test_cyrillic_after_the_first_64_kb_is_still_recognised(tmp_path):
    body = "a,b\n" + "x,1\n" * 20_000 + "Москва,2\n"
    table = read(tmp_path, body.encode("cp1251"), max_rows=100_000)
    assert table.format.encoding == "cp1251"
    assert table.frame["a"].iloc[-1] == "Москва"


def test_a_late_non_utf8_byte_switches_the_whole_file(tmp_path):
    body = "a,b\n" + "x,1\n" * 30_000 + "caf\xe9,2\n"  # past the 64 KB sample
    table = read(tmp_path, body.encode("latin-1"), max_rows=100_000)
    assert table.format.encoding == "cp1252"
    assert table.frame["a"].iloc[-1] == "café"


# Each table written in one single-byte encoding; the reader must give back the same text.
WINDOWS_1252_PRICES = (
    "product;note;price\n"
    "Espresso;“Best seller” – strong;€2.50\n"
    "Croissant;Baker’s choice;€1.80\n"
    "Crème brûlée;Chef’s “favourite”;€4.90\n"
)
WINDOWS_1250_CITIES = (
    "miasto;kraj;ludność\n"
    "Łódź;Polska;658444\n"
    "Kraków;Polska;804237\n"
    "Gdańsk;Polska;486271\n"
    "Přerov;Česko;41975\n"
    "Žilina;Slovensko;80810\n"
)
WINDOWS_1251_CITIES = (
    "город;население;регион\n"
    "Москва;13010112;Центральный\n"
    "Санкт-Петербург;5601911;Северо-Западный\n"
    "Нижний Новгород;1228199;Приволжский\n"
)
LATIN_1_PEOPLE = "name,city\nMüller,Zürich\nJoão,São Paulo\nAnnaëlle,Besançon\n"


def as_columns(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    delimiter = ";" if ";" in lines[0] else ","
    header, *rows = (line.split(delimiter) for line in lines)
    return {name: [row[position] for row in rows] for position, name in enumerate(header)}


@pytest.mark.parametrize(
    ("text", "written_as", "read_as"),
    [
        (WINDOWS_1252_PRICES, "cp1252", "cp1252"),
        (WINDOWS_1250_CITIES, "cp1250", "cp1250"),
        (WINDOWS_1251_CITIES, "cp1251", "cp1251"),
        # Latin-1 letters are the same bytes in Windows-1252, which reads them alike.
        (LATIN_1_PEOPLE, "latin-1", "cp1252"),
    ],
)
def test_single_byte_encodings_are_told_apart_and_read_back_exactly(tmp_path, text, written_as, read_as):
    table = read(tmp_path, text.encode(written_as))
    assert table.format.encoding == read_as
    assert encoding_label(read_as) in table.format.encoding_note
    assert table.frame.to_dict("list") == as_columns(text)


@pytest.mark.parametrize(
    ("text", "written_as"),
    [
        # ń is ñ in Windows-1252, but Spanish writes ñ only before a vowel.
        ("miasto,kod\nGdańsk,80\nPoznań,60\n", "cp1250"),
        # ő is õ in Windows-1252, but Portuguese writes õ only in õe / õi.
        ("név,város\nKovács Péter,Győr\nSzabó Anna,Pécs\n", "cp1250"),
        ("nombre,ciudad\nJosé Muñoz,Logroño\nMaría Peña,A Coruña\n", "cp1252"),
        ("cidade,nota\nSão Paulo,informações\nBrasília,não\n", "cp1252"),
        ("jméno,město\nJiří Novák,Brno\nŽaneta Černá,Plzeň\n", "cp1250"),
        ("item,price\nWidget™,£4.99\nThing,25°C\nArea,12 m²\n", "cp1252"),
        ("назва,місто\nОлена Шевченко,Київ\nІгор,Львів\n", "cp1251"),
    ],
)
def test_short_tables_in_neighbouring_code_pages_read_right(tmp_path, text, written_as):
    table = read(tmp_path, text.encode(written_as))
    assert table.format.encoding == written_as
    assert table.frame.to_dict("list") == as_columns(text)


def test_a_byte_one_code_page_leaves_undefined_rules_it_out_anywhere_in_the_file(tmp_path):
    # The first non-UTF-8 bytes (“ ”) read best as cp1252, but 0x9D, which cp1252 does
    # not define, comes more than a megabyte later: cp1252 would fail mid-file.
    body = "a,b\n“x”,1\n" + "y,2\n" * 300_000 + "zť,3\n"  # ť is 0x9D in cp1250
    table = read(tmp_path, body.encode("cp1250"), max_rows=400_000)
    assert table.format.encoding == "cp1250"
    assert table.frame["a"].iloc[0] == "“x”"
    assert table.frame["a"].iloc[-1] == "zť"


def test_bytes_no_windows_code_page_defines_fall_back_to_latin1(tmp_path):
    # 0x81 and 0x90 are undefined in cp1252 and cp1250, 0x98 in cp1251.
    table = read(tmp_path, b"a,b\ncaf\xe9,\x81\x90\x98\n")
    assert table.format.encoding == "latin-1"
    assert table.frame["a"].tolist() == ["café"]


def test_utf8_letters_in_a_non_utf8_file_do_not_sway_the_choice(tmp_path):
    # "Zürich" in UTF-8 is "ZÃ¼rich" in every single-byte reading; the Latin-1 line
    # alone decides, and "Genève" comes out right.
    content = "city,n\nZürich,1\n".encode() + "Genève,2\n".encode("latin-1")
    table = read(tmp_path, content)
    assert table.frame["city"].tolist()[1] == "Genève"


@pytest.mark.parametrize(
    ("codec", "label"),
    [
        ("utf-8-sig", "UTF-8"),
        ("utf-8", "UTF-8"),
        ("cp1252", "Windows-1252 (Western European)"),
        ("cp1250", "Windows-1250 (Central European)"),
        ("cp1251", "Windows-1251 (Cyrillic)"),
        ("windows-1251", "Windows-1251 (Cyrillic)"),
        ("latin-1", "Latin-1 (ISO-8859-1)"),
        ("iso-8859-1", "Latin-1 (ISO-8859-1)"),
        ("koi8-r", "koi8-r"),
        ("no-such-codec", "no-such-codec"),
        ("", ""),
    ],
)
def test_encodings_are_named_for_people(codec, label):
    assert encoding_label(codec) == label


@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")]
)
def test_it_sniffs_the_delimiter(tmp_path, delimiter, name):
    rows = [["id", "price", "label"], ["1", "2.5", "a b"], ["2", "3", "c"]]
    table = read(tmp_path, "".join(delimiter.join(row) + "\n" for row in rows))
    assert table.format.delimiter == delimiter
    assert table.frame.shape == (2, 3)


def test_commas_inside_quotes_do_not_fool_the_semicolon_sniffer(tmp_path):
    content = 'name;city\n"Smith, John";"Paris, FR"\n"Doe, Jane";"Rome, IT"\n'
    table = read(tmp_path, content)
    assert table.format.delimiter == ";"
    assert table.frame["name"].tolist() == ["Smith, John", "Doe, Jane"]


def test_quoted_commas_and_embedded_newlines(tmp_path):
    content = 'id,text\n1,"hello, world"\n2,"two\nlines"\n3,"say ""hi"""\n'
    table = read(tmp_path, content)
    assert table.frame["text"].tolist() == ["hello, world", "two\nlines", 'say "hi"']


def test_blank_lines_are_skipped(tmp_path):
    table = read(tmp_path, "\na,b\n1,2\n\n   \n3,4\n\n")
    assert table.frame.to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}


def test_crlf_without_a_final_newline(tmp_path):
    table = read(tmp_path, "a,b\r\n1,x\r\n2,y")
    assert table.frame.to_dict("list") == {"a": ["1", "2"], "b": ["x", "y"]}


def test_old_mac_line_endings(tmp_path):
    assert read(tmp_path, "a,b\r1,2\r3,4\r").frame.shape == (2, 2)


def test_header_names_are_stripped(tmp_path):
    table = read(tmp_path, " a , b\n1,2\n")
    assert list(table.frame.columns) == ["a", "b"]


def test_cells_stay_raw_text(tmp_path):
    table = read(tmp_path, 'a,b\n NA ,1\n"NA",?\n,--\n')
    assert table.frame["a"].tolist() == [" NA ", "NA", ""]
    assert table.frame["b"].tolist() == ["1", "?", "--"]
    assert all(pd.api.types.is_string_dtype(dtype) for dtype in table.frame.dtypes)


# --- Kinds --------------------------------------------------------------------------------


def test_it_infers_kinds_and_counts_missing_cells(tmp_path):
    content = (
        "num,zero_one,flag,city,empty,mixed\n"
        "1.5,0,yes,Paris,,1\n"
        "NA,1,No,?,NA,x\n"
        " -2e3 ,1,Y,Rome,,2\n"
        "?,0,f,--,?,3\n"
    )
    table = read(tmp_path, content)
    kinds = {column.name: (column.kind, column.missing) for column in table.columns}
    assert kinds == {
        "num": ("numeric", 2),
        "zero_one": ("numeric", 0),
        "flag": ("boolean", 0),
        "city": ("categorical", 2),
        "empty": ("numeric", 4),  # like training reads it: see schema.infer_kind
        "mixed": ("categorical", 0),
    }
    assert table.columns[0].as_dict() == {"name": "num", "kind": "numeric", "missing": 2}


def test_infinity_is_not_a_number(tmp_path):
    table = read(tmp_path, "a,b\n1,inf\n2,3\n")
    assert [column.kind for column in table.columns] == ["numeric", "categorical"]


def test_a_bad_value_after_the_first_thousand_rows_makes_a_column_categorical(tmp_path):
    content = "a,b\n" + "1,2\n" * 1500 + "x,2\n"
    table = read(tmp_path, content, max_rows=5000)
    assert [column.kind for column in table.columns] == ["categorical", "numeric"]


# --- Refusals -----------------------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path):
    assert refusal(tmp_path, "") == "the file is empty"
    assert refusal(tmp_path, "\n \n\r\n") == "the file is empty"


def test_a_header_without_rows_is_refused(tmp_path):
    assert "no data rows" in refusal(tmp_path, "a,b\n\n")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (gzip.compress(b"a,b\n1,2\n"), "gzip file, not CSV text"),
        (b"PK\x03\x04\x14\x00rest", "zip file"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
        (b"a,b\n1,\x002\n", "NUL bytes"),
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        (b'{"rows": [{"a": 1}]}', "holds JSON, not CSV"),
        (b'\xef\xbb\xbf  [\n  {"a": 1, "b": 2}\n]', "holds JSON, not CSV"),
        (b"[1, 2, 3]", "holds JSON, not CSV"),
    ],
)
def test_binary_files_are_refused(tmp_path, content, words):
    assert words in refusal(tmp_path, content)


def test_duplicate_names_are_named(tmp_path):
    message = refusal(tmp_path, "a,b, a ,c,b\n1,2,3,4,5\n")
    assert "duplicate column names" in message
    assert "'a' (columns 1, 3)" in message
    assert "'b' (columns 2, 5)" in message


def test_names_differing_in_case_are_not_duplicates(tmp_path):
    assert list(read(tmp_path, "a,A\n1,2\n").frame.columns) == ["a", "A"]


def test_an_empty_column_name_gives_its_position(tmp_path):
    assert refusal(tmp_path, "a,,c\n1,2,3\n") == "column 2 has no name"
    assert refusal(tmp_path, ",b, \n1,2,3\n") == "columns 1, 3 have no name"


def test_a_single_column_is_refused(tmp_path):
    assert "needs at least two columns: features and a target" in refusal(tmp_path, "a\n1\n2\n")


def test_a_ragged_row_names_its_physical_line(tmp_path):
    content = (
        "a,b,c\n"  # line 1
        '1,"two\nlines",3\n'  # lines 2-3
        "\n"  # line 4, blank
        "4,5,6\n"  # line 5
        "7,8\n"  # line 6: ragged
        "9,10,11,12\n"  # line 7: ragged too
    )
    message = refusal(tmp_path, content)
    assert message.startswith("line 6 has 2 fields, expected 3")
    assert "1 more row" in message


def test_a_ragged_row_in_crlf_without_final_newline(tmp_path):
    assert refusal(tmp_path, "a,b\r\n1,2\r\n3,4,5").startswith("line 3 has 3 fields, expected 2")


def test_too_many_rows(tmp_path):
    message = refusal(tmp_path, "a,b\n" + "1,2\n" * 11, max_rows=10)
    assert message == "the file has more than 10 rows; the limit is 10"
    assert read(tmp_path, "a,b\n" + "1,2\n" * 10, max_rows=10).frame.shape == (10, 2)


def test_too_many_columns(tmp_path):
    assert refusal(tmp_path, "a,b,c\n1,2,3\n", max_columns=2) == ("the file has 3 columns; the limit is 2")


def test_too_many_bytes(tmp_path):
    assert "the limit is" in refusal(tmp_path, "a,b\n1,2\n", max_bytes=4)


# --- Streaming ----------------------------------------------------------------------------


def test_iter_csv_chunks_yields_exact_chunks_of_raw_text(tmp_path):
    path = write(tmp_path, "\ufeffid; name ;x\n" + "".join(f"{i};n{i};\n" for i in range(10)))
    fmt = sniff_format(path)
    chunks = list(iter_csv_chunks(path, fmt, chunk_rows=4))
    assert [len(chunk) for chunk in chunks] == [4, 4, 2]
    assert list(chunks[0].columns) == ["id", "name", "x"]
    assert pd.concat(chunks)["id"].tolist() == [str(i) for i in range(10)]
    assert chunks[0]["x"].tolist() == [""] * 4

    only = list(iter_csv_chunks(path, fmt, chunk_rows=100, columns=["name"]))
    assert len(only) == 1 and list(only[0].columns) == ["name"]


def test_iter_csv_chunks_refuses_a_ragged_row_with_its_line(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3\n")
    with pytest.raises(DatasetError, match="line 3 has 1 field, expected 2"):
        list(iter_csv_chunks(path, sniff_format(path), chunk_rows=10))


@pytest.mark.parametrize("header", ["[a],b\n1,2\n", "{x},y\n1,2\n", "[1] mm,b\n1,2\n"])
def test_brackets_in_a_csv_header_are_not_taken_for_json(tmp_path, header):
    assert list(read(tmp_path, header + "3,4\n").frame.columns)[1] in ("b", "y")


def test_an_endless_line_is_named_as_such_not_in_pyarrow_words(tmp_path):
    message = refusal(tmp_path, b"a,b\n1,2\n" + b"9" * (3 * 1024 * 1024) + b",3\n")
    assert message.startswith("a line is longer than 1 MB, which no table row should be")
