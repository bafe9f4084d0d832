"""Reading files: declared format, delimiter, headerless files, JSON lines, any extension."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.file_kinds import ReadOptions
from kizuna.training.files import read_table
from kizuna.training.sniff import sniff

ROWS = "1\t10\t4\t881250949\n2\t20\t3\t891717742\n"


def test_a_headerless_tab_file_with_an_odd_extension_keeps_its_first_row(tmp_path: Path):
    path = tmp_path / "u.data"
    path.write_text(ROWS)
    frame = read_table(
        path,
        reading=ReadOptions("tsv", header=False, columns=("user", "item", "rating", "ts")),
        string_columns={"user"},
    )
    assert len(frame) == 2 and list(frame.columns) == ["user", "item", "rating", "ts"]
    assert frame["user"].tolist() == ["1", "2"] and frame["ts"].tolist() == [881250949, 891717742]


def test_compression_is_read_from_the_content_not_the_name(tmp_path: Path):
    path = tmp_path / "export.dat"
    path.write_bytes(gzip.compress(b"a;b\n1;2\n"))
    frame = read_table(path, reading=ReadOptions("csv", delimiter=";"))
    assert frame.to_dict("records") == [{"a": 1, "b": 2}]


def test_json_lines(tmp_path: Path):
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"customer_id": "007", "x": 1}\n{"customer_id": "008", "x": 2}\n')
    frame = read_table(path, string_columns={"customer_id"})
    assert frame["customer_id"].tolist() == ["007", "008"]


def test_tsv_extension_is_tab_separated(tmp_path: Path):
    path = tmp_path / "export.tsv"
    pd.DataFrame({"a": [1], "b": ["x,y"]}).to_csv(path, sep="\t", index=False)
    assert read_table(path)["b"].tolist() == ["x,y"]


def test_an_unknown_extension_names_the_formats_and_the_setting(tmp_path: Path):
    path = tmp_path / "u.data"
    path.write_text(ROWS)
    with pytest.raises(KizunaInputError) as err:
        read_table(path)
    text = str(err.value)
    assert ".tsv" in text and ".csv" in text and "file_format" in text and "header: false" in text


def test_a_headerless_customers_file_reads_with_its_own_settings(tmp_path: Path):
    from kizuna.training.config import DataConfig
    from kizuna.training.data import load_tables

    (tmp_path / "people.dat").write_text("007;2024-01-05;basic\n008;2024-02-01;pro\n")
    data = DataConfig.model_validate(
        {
            "customers": str(tmp_path / "people.dat"),
            "customers_reading": {
                "file_format": "csv",
                "delimiter": ";",
                "header": False,
                "columns": ["id", "joined", "plan"],
            },
            "customers_column_map": {"customer_id": "id", "signup_date": "joined"},
        }
    )
    _, customers = load_tables(data)
    assert customers.index.tolist() == ["007", "008"]  # the first line is a customer, zeros kept
    assert customers["signup_date"].iloc[1] == pd.Timestamp("2024-02-01")
    with pytest.raises(ValueError, match="header: false needs"):
        DataConfig.model_validate({"customers_reading": {"header": False}})


@pytest.mark.parametrize(
    "text",
    [
        "id,order,price\n536637,1,3.75,\n536638,2,1.25,\n",  # every data line ends with ","
        "id,order,price\n536637,1,3.75,\n536638,2,1.25\n",  # only some do
    ],
)
def test_a_trailing_delimiter_on_data_lines_shifts_no_column(tmp_path: Path, text: str):
    path = tmp_path / "orders.csv"
    path.write_text(text)
    frame = read_table(path, string_columns={"id"})
    assert frame.to_dict("records") == [
        {"id": "536637", "order": 1, "price": 3.75},
        {"id": "536638", "order": 2, "price": 1.25},
    ]


def test_a_value_past_the_last_named_column_fails_instead_of_being_dropped(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text("id,description,price\n1,red,3.75,\n2,blue, green,1.25\n")
    with pytest.raises(KizunaInputError, match="more fields than the 3 columns named") as err:
        read_table(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_json_array_of_records_reads_like_json_lines(tmp_path: Path):
    path = tmp_path / "orders.json"
    path.write_text('[{"id": "001", "price": 3.75}, {"id": "002", "price": 1.25}]')
    frame = read_table(path, string_columns={"id"})
    assert frame.to_dict("records") == [{"id": "001", "price": 3.75}, {"id": "002", "price": 1.25}]


def test_a_spreadsheet_is_named_with_what_to_do(tmp_path: Path):
    import zipfile

    path = tmp_path / "orders.xlsx"
    with zipfile.ZipFile(path, "w") as book:  # the parts that make a zip an Excel workbook
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    for reader in (lambda: read_table(path, reading=ReadOptions("csv")), lambda: sniff(path)):
        with pytest.raises(KizunaInputError, match="spreadsheet workbook") as err:
            reader()
        assert "save the sheet of order lines as CSV UTF-8" in str(err.value)


def test_init_names_a_header_only_file_and_reads_a_parquet_folder(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text("customer,order,item,date,qty,price\n")
    with pytest.raises(KizunaInputError, match="no data rows, only column names"):
        sniff(path)
    folder = tmp_path / "lake"
    folder.mkdir()
    pd.DataFrame(
        {
            "customer": [f"C{i % 30}" for i in range(90)],
            "order": [f"O{i}" for i in range(90)],
            "item": [f"I{i % 25}" for i in range(90)],
            "date": pd.date_range("2024-01-01", periods=90, freq="D"),
            "qty": 1,
            "price": 2.5,
        }
    ).to_parquet(folder / "part-0.parquet")
    proposal = sniff(folder)
    assert proposal.column_map["timestamp"] == "date" and proposal.reading.file_format == "parquet"


def test_a_ragged_line_is_named_with_its_field_counts(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    with pytest.raises(KizunaInputError) as err:
        read_table(path)
    assert str(err.value).startswith(f"line 3 of {path} has 4 fields where the lines before it")


def test_a_zip_of_several_files_is_named_with_the_fix(tmp_path: Path):
    import zipfile

    path = tmp_path / "orders.zip"
    with zipfile.ZipFile(path, "w") as archive:  # as a Mac's Finder makes it
        archive.writestr("orders.csv", "a,b\n1,2\n")
        archive.writestr("__MACOSX/._orders.csv", "x")
    for reader in (lambda: read_table(path, reading=ReadOptions("csv")), lambda: sniff(path)):
        with pytest.raises(KizunaInputError, match="a zip of 2 files") as err:
            reader()
        assert "zip -d orders.zip '__MACOSX/*'" in str(err.value)


def test_init_reads_a_json_array_and_a_compressed_windows_encoded_export(tmp_path: Path):
    rows = [
        {"customer": f"C{i % 9}", "order": f"O{i}", "item": f"I{i % 6}", "qty": 1, "price": 2.5,
         "date": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "note": "Crème"}
        for i in range(120)
    ]  # fmt: skip
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(rows))
    assert sniff(path).column_map["timestamp"] == "date"
    packed = tmp_path / "orders.csv.gz"
    pd.DataFrame(rows).to_csv(packed, index=False, encoding="cp1252", compression="gzip")
    assert sniff(packed).reading.encoding == "cp1252"


def test_init_names_a_column_of_excel_serial_dates(tmp_path: Path):
    path = tmp_path / "orders.csv"
    lines = [f"C{i % 7},O{i},I{i % 5},{40510 + i % 10}.48,1,2.5" for i in range(40)]
    path.write_text("customer,order,item,InvoiceDate,qty,price\n" + "\n".join(lines) + "\n")
    with pytest.raises(KizunaInputError, match="InvoiceDate holds numbers like .*Excel's serial"):
        sniff(path)


def test_missing_words_are_ids_in_id_columns_and_missing_elsewhere(tmp_path: Path):
    """``NA`` is a customer (as Spark reads it); a blank id is missing; ``NULL`` price is missing."""
    path = tmp_path / "t.csv"
    path.write_text("customer_id,item_id,unit_price\nNA,NULL,NULL\n,i,2\nnan,N/A,1\n")
    frame = read_table(path, string_columns={"customer_id", "item_id"})
    assert frame["customer_id"].tolist()[::2] == ["NA", "nan"]
    assert frame["customer_id"].iloc[1] == ""  # blank: the validator's missing id
    assert frame["item_id"].tolist() == ["NULL", "i", "N/A"]
    assert pd.isna(frame["unit_price"].iloc[0]) and frame["unit_price"].iloc[1] == 2


def test_a_name_given_to_two_columns_is_refused_with_their_positions(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,Qty,item_id,Qty\na,1,i,2\n")
    with pytest.raises(KizunaInputError, match=r"'Qty' \(columns 2, 4\)"):
        read_table(path)
    path.write_text("a,b,,\n1,2,,\n")  # blank names from trailing delimiters are not names
    assert list(read_table(path).columns[:2]) == ["a", "b"]
    # Spark takes names that differ only by case for one: refused on both engines alike
    path.write_text("customer_id,category,item_id,Category\na,x,i,y\n")
    with pytest.raises(KizunaInputError, match=r"'category' / 'Category' \(columns 2, 4\)"):
        read_table(path)
