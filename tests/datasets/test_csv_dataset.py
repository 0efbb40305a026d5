"""SpreadsheetCSVDataset: no text cell a spreadsheet would run, and exact round trips."""

import csv

import pandas as pd

from fashion_mnist.datasets.csv_dataset import SpreadsheetCSVDataset

# OWASP's formula starts, a name that starts with a quote already, and a plain one.
NAMES = ["=1+2.png", "+a.png", "-b.png", "@c.png", "\td.png", "\re.png", "'f.png"]


def test_text_cells_that_could_run_get_a_quote_numbers_keep_their_sign(tmp_path):
    table = pd.DataFrame(
        {
            "file": [*NAMES, "plain.png"],
            "score": [-0.5] * 8,
            "=note": ["-"] * 8,
        }
    )
    dataset = SpreadsheetCSVDataset(
        filepath=str(tmp_path / "t.csv"), save_args={"index": False}
    )

    dataset.save(table)

    with open(tmp_path / "t.csv", newline="") as written:
        header, *rows = csv.reader(written)
    assert header == ["file", "score", "'=note"]
    assert [row[0] for row in rows] == [*(f"'{n}" for n in NAMES), "plain.png"]
    assert {row[1] for row in rows} == {"-0.5"}
    pd.testing.assert_frame_equal(dataset.load(), table)


def test_a_cell_that_starts_with_a_quote_but_no_formula_is_read_as_written(tmp_path):
    (tmp_path / "t.csv").write_text("file\n'quoted.png\n''=x\n")

    loaded = SpreadsheetCSVDataset(filepath=str(tmp_path / "t.csv")).load()

    assert loaded["file"].tolist() == ["'quoted.png", "'=x"]
