"""pandas' CSV dataset whose text cells a spreadsheet shows instead of running."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from kedro_datasets.pandas import CSVDataset

# OWASP's CSV injection list: what makes Excel, LibreOffice or Sheets read a
# cell as a formula; the quote itself is escaped too, so that loading is exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
QUOTE = "'"


class SpreadsheetCSVDataset(CSVDataset):
    """A ``pandas.CSVDataset`` that neutralises formulas in text cells.

    A file called ``=HYPERLINK("evil.example","click").png`` written as is at
    the start of a row is a live formula when the CSV is opened in a
    spreadsheet. On save, every text cell (and text column name) that begins
    with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a single
    quote gets one more single quote in front, as OWASP's CSV injection
    guidance advises: the spreadsheet then shows the text, and a reader of the
    file sees the real name after the quote (``'=1+2.png`` is the file
    ``=1+2.png``). Numbers are written as they are (``-0.5`` stays a number).
    On load the added quote is removed, so a table saved and loaded again is
    the same table. Lines end in CRLF, as RFC 4180 has it: Python's csv
    writer then also quotes a cell holding a lone carriage return (a legal
    file name on Linux), which would otherwise split its row in two.

    Example catalog entry::

        inference_predictions:
          type: fashion_mnist.datasets.csv_dataset.SpreadsheetCSVDataset
          filepath: data/07_model_output/inference/predictions.csv
          save_args:
            index: false
    """

    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {
        **CSVDataset.DEFAULT_SAVE_ARGS,
        "lineterminator": "\r\n",
    }

    def save(self, data: pd.DataFrame) -> None:
        super().save(_map_text(data, neutralise))

    def load(self) -> pd.DataFrame:
        return _map_text(super().load(), restore)


def neutralise(cell: str) -> str:
    """``cell`` with a leading single quote when a spreadsheet could run it."""
    return QUOTE + cell if cell.startswith(FORMULA_STARTS) else cell


def restore(cell: str) -> str:
    """The text that :func:`neutralise` was given."""
    return (
        cell[1:] if cell[1:].startswith(FORMULA_STARTS) and cell[:1] == QUOTE else cell
    )


def _map_text(table: pd.DataFrame, change) -> pd.DataFrame:
    """A copy of ``table`` with ``change`` applied to its text cells and column names."""
    table = table.rename(columns=lambda c: change(c) if isinstance(c, str) else c)
    for column in table.columns[table.dtypes.map(_is_text).to_numpy(bool)]:
        table[column] = table[column].map(
            lambda cell: change(cell) if isinstance(cell, str) else cell
        )
    return table


def _is_text(dtype) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


__all__ = ["SpreadsheetCSVDataset"]
