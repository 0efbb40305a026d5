"""The project's conf/base: its folder, and its catalog entries with their files moved."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from kedro.io import DataCatalog

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


def project_entry(pattern: str, filepath: Path) -> DataCatalog:
    """A catalog of the project's entry ``pattern``, its file moved to ``filepath``."""
    entry = copy.deepcopy(yaml.safe_load((CONF / "catalog.yml").read_text())[pattern])
    entry["dataset"]["filepath"] = str(filepath)
    return DataCatalog.from_config({pattern: entry})
